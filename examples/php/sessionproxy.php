<?php
/**
 * sessionproxy for PHP: the session the proxy sends in X-Session, as an
 * object used like $_SESSION, whose changes go back to the proxy as
 * X-Session-* response headers just before PHP sends its headers.
 *
 *     require __DIR__ . '/sessionproxy.php';
 *     $session = SessionProxy\start(secret: getenv('UPSTREAM_SECRET'));
 *     $session['user'] = ['name' => 'jo'];
 *
 * PHP 8.2 standard library only. See README.md beside it.
 */

declare(strict_types=1);

namespace SessionProxy;

/** A token the proxy could not have minted; the message names why. */
final class InvalidToken extends \RuntimeException
{
}

/** A change made after the directives were written, or start() after output: it would be lost. */
final class HeadersSent extends \LogicException
{
}

const ISSUER = 'sessionproxy';
const LEEWAY = 5; // seconds of clock skew allowed on exp, as the other libraries do
const MAX_AGE_LIMIT = 100 * 365 * 24 * 3600 * 1000; // the proxy's limit, in ms

/**
 * Whether the response headers (headers_list()) already vary on Cookie:
 * a Vary that names it, in any case, or is "*".
 *
 * @param list<string> $headers
 */
function variesOnCookie(array $headers): bool
{
    foreach ($headers as $line) {
        [$name, $value] = array_pad(explode(':', $line, 2), 2, '');
        if (strcasecmp(trim($name), 'Vary') !== 0) {
            continue;
        }
        foreach (explode(',', $value) as $field) {
            $field = trim($field);
            if ($field === '*' || strcasecmp($field, 'Cookie') === 0) {
                return true;
            }
        }
    }
    return false;
}

/**
 * Verify a token and return its claims (sess as a PHP array). Throws
 * InvalidToken for anything but an HS256 token from sessionproxy, signed
 * with one of $secrets, not expired (5 s leeway), for $audience if given.
 *
 * @param string|list<string> $secrets the secret first, then old ones during a rotation
 */
function verify(string $token, string|array $secrets, ?string $audience = null): array
{
    $parts = explode('.', $token);
    if (count($parts) !== 3) {
        throw new InvalidToken('malformed: not three parts');
    }
    [$h, $p, $s] = $parts;
    try {
        $header = json_decode(b64url($h), false, 64, JSON_THROW_ON_ERROR);
    } catch (\JsonException $e) {
        throw new InvalidToken('malformed header: ' . $e->getMessage());
    }
    if (!$header instanceof \stdClass) {
        throw new InvalidToken('malformed header: not a JSON object');
    }
    if (($header->alg ?? null) !== 'HS256') {
        throw new InvalidToken('alg: only HS256 is accepted');
    }
    $sig = b64url($s);
    $ok = false;
    foreach ((array) $secrets as $secret) {
        if ($secret === '') {
            throw new \ValueError('sessionproxy: an empty secret would accept tokens anyone can make');
        }
        $ok = hash_equals(hash_hmac('sha256', "$h.$p", $secret, true), $sig) || $ok;
    }
    if (!$ok) {
        throw new InvalidToken('signature');
    }
    try {
        $claims = json_decode(b64url($p), false, 512, JSON_THROW_ON_ERROR);
    } catch (\JsonException $e) {
        throw new InvalidToken('malformed payload: ' . $e->getMessage());
    }
    // The proxy's shape, as the other libraries require it: read through
    // PHP's casts, a "new" of "false" would be true and a list sid "Array".
    if (!$claims instanceof \stdClass || !(($claims->sess ?? null) instanceof \stdClass)) {
        throw new InvalidToken('malformed: the payload or sess is not an object');
    }
    if (property_exists($claims, 'sid') && !is_string($claims->sid)) {
        throw new InvalidToken('malformed: sid is not a string');
    }
    if (property_exists($claims, 'new') && !is_bool($claims->new)) {
        throw new InvalidToken('malformed: new is not a boolean');
    }
    $exp = $claims->exp ?? null;
    if (!(is_int($exp) || is_float($exp)) || !is_finite((float) $exp) || $exp + LEEWAY <= time()) {
        throw new InvalidToken('expired');
    }
    if (($claims->iss ?? null) !== ISSUER) {
        throw new InvalidToken('issuer');
    }
    $aud = $claims->aud ?? null;
    if ($audience !== null && $aud !== $audience && !(is_array($aud) && in_array($audience, $aud, true))) {
        throw new InvalidToken('audience');
    }
    // Again as arrays, the PHP session's shape (the checks above needed
    // objects to tell {} from []).
    return json_decode(b64url($p), true, 512, JSON_THROW_ON_ERROR);
}

/** Strict base64url (no padding); InvalidToken for anything else. */
function b64url(string $s): string
{
    $raw = preg_match('/^[A-Za-z0-9_-]*$/', $s) ? base64_decode(strtr($s, '-_', '+/'), true) : false;
    if ($raw === false) {
        throw new InvalidToken('malformed: not base64url');
    }
    return $raw;
}

/**
 * Start the request's session from the proxy's token and register the
 * header callback that writes its changes. Without a valid token it
 * answers 401 and exits, or, with $onInvalid 'empty', returns an empty
 * session that refuses changes.
 *
 * The callback is PHP's header_register_callback(), which holds one
 * callback: an app that registers its own replaces this one.
 *
 * @param string|null $secret    token.secret (HS256); required
 * @param list<string> $oldSecrets secrets still accepted during a rotation
 * @param string $header         token.header; the directives are named after it
 * @param int|'empty' $onInvalid  the status to answer without a valid token, or 'empty'
 */
function start(
    ?string $secret,
    array $oldSecrets = [],
    ?string $audience = null,
    string $header = 'X-Session',
    int|string $onInvalid = 401,
): Session {
    if ($secret === null || $secret === '') {
        throw new \ValueError('sessionproxy: no secret (set token.secret\'s value, e.g. UPSTREAM_SECRET)');
    }
    // The directives go out in a header callback: registered after the
    // headers were sent, it never runs, and every change would be lost
    // without a word.
    if (headers_sent($file, $line)) {
        throw new HeadersSent("sessionproxy: start() after output began ($file:$line); its changes could not be sent");
    }
    $token = $_SERVER['HTTP_' . strtoupper(str_replace('-', '_', $header))] ?? '';
    try {
        $claims = verify((string) $token, [$secret, ...$oldSecrets], $audience);
    } catch (InvalidToken $e) {
        if ($onInvalid === 'empty') {
            return new Session(null, $header);
        }
        error_log("sessionproxy: refused a token ($header): " . $e->getMessage());
        http_response_code((int) $onInvalid);
        header('Content-Type: text/plain; charset=utf-8');
        echo "invalid session token\n";
        exit;
    }
    // The session once more as JSON objects: PHP arrays lose whether an
    // empty or "0"-keyed value was an object, and the patch must not turn
    // data the app did not touch into a list.
    $shape = json_decode(b64url(explode('.', (string) $token)[1]), false, 512, JSON_THROW_ON_ERROR)->sess;
    $session = new Session($claims, $header, $shape);
    header_register_callback($session->writeHeaders(...));
    register_shutdown_function($session->checkLateChanges(...));
    return $session;
}

/**
 * The session data, used like $_SESSION: $s['k'] = v, unset($s['k']),
 * nested changes ($s['cart'][] = 'x'), foreach, count(). A null value
 * deletes its key, as in a merge patch. Top-level keys starting with '_'
 * are the proxy's and refused.
 *
 * @property-read ?string $id     the session id (sid); null in the koa cookie format or without a token
 * @property-read bool    $isNew  true when the session did not exist before this request
 * @property-read array   $claims the token's claims as the proxy sent them; [] without a token
 * @implements \ArrayAccess<string, mixed>
 * @implements \IteratorAggregate<string, mixed>
 */
final class Session implements \ArrayAccess, \IteratorAggregate, \Countable, \JsonSerializable
{
    // Read from outside through __get, which marks the session accessed:
    // a page shown by the session's id or newness depends on the cookie.
    /** The session id (sid); null in the koa cookie format or without a token. */
    private readonly ?string $id;
    /** True when the session did not exist before this request. */
    private readonly bool $isNew;
    /** The token's claims as the proxy sent them; [] without a token. */
    private readonly array $claims;

    private array $data;
    private readonly array $before;
    private bool $destroyed = false;
    private bool $destroyOthers = false;
    private bool $renew = false;
    private int|string|null $maxAge = null;
    private bool $accessed = false;
    private ?array $sent = null; // the data as the directives left it, once written

    /**
     * @param \stdClass|null $shape the token's sess decoded as objects, so that
     *                              an object PHP reads as [] or a list is sent back as one
     */
    public function __construct(
        ?array $claims,
        private readonly string $header = 'X-Session',
        private readonly ?\stdClass $shape = null,
    ) {
        $this->claims = $claims ?? [];
        $this->id = isset($claims['sid']) ? (string) $claims['sid'] : null;
        $this->isNew = (bool) ($claims['new'] ?? $claims === null);
        $data = [];
        foreach ($this->claims['sess'] ?? [] as $k => $v) {
            if (!str_starts_with((string) $k, '_')) { // the proxy's bookkeeping
                $data[$k] = $v;
            }
        }
        $this->data = $data;
        $this->before = $data;
    }

    /** $session->id, ->isNew and ->claims, read only; reading one marks the session accessed. */
    public function __get(string $name): mixed
    {
        if (!in_array($name, ['id', 'isNew', 'claims'], true)) {
            throw new \Error('Undefined property: ' . self::class . '::$' . $name);
        }
        $this->accessed = true;
        return $this->{$name};
    }

    public function __isset(string $name): bool
    {
        return in_array($name, ['id', 'isNew', 'claims'], true) && $this->__get($name) !== null;
    }

    public function offsetExists(mixed $key): bool
    {
        $this->accessed = true;
        return isset($this->data[$key]);
    }

    /** By reference, so that nested changes ($s['user']['age']++) are seen. */
    public function &offsetGet(mixed $key): mixed
    {
        $this->accessed = true;
        if (!array_key_exists($key, $this->data)) {
            if (str_starts_with((string) $key, '_')) {
                $none = null; // the proxy's keys are never the app's
                return $none;
            }
            $this->checkKey($key);
            $this->data[$key] = null; // null is absent; a nested write fills it
        }
        return $this->data[$key];
    }

    public function offsetSet(mixed $key, mixed $value): void
    {
        $this->checkWritable();
        $this->checkKey($key);
        $this->accessed = true;
        $this->data[$key] = $value;
    }

    public function offsetUnset(mixed $key): void
    {
        $this->checkWritable();
        $this->accessed = true;
        unset($this->data[$key]);
    }

    public function getIterator(): \ArrayIterator
    {
        return new \ArrayIterator($this->toArray());
    }

    public function count(): int
    {
        return count($this->toArray());
    }

    /** The data as a plain array (nulls, which mean absent, left out). */
    public function toArray(): array
    {
        $this->accessed = true;
        return $this->current();
    }

    /** toArray() for the library's own reads, which do not mark the session accessed. */
    private function current(): array
    {
        return array_filter($this->data, fn ($v) => $v !== null);
    }

    /** json_encode($session): the data, with the token's objects kept objects as directives() keeps them. */
    public function jsonSerialize(): \stdClass
    {
        return (object) reshape($this->toArray(), $this->shape);
    }

    /**
     * Give the session a new id, keeping its data (X-Session-Renew), like
     * session_regenerate_id(). Call it after a login, against session fixation.
     */
    public function regenerate(): void
    {
        $this->checkWritable();
        $this->accessed = true;
        $this->renew = true;
    }

    /**
     * Drop the session (X-Session-Destroy: true), like session_destroy().
     * Keys set afterwards start a new session with a new id.
     */
    public function destroy(): void
    {
        $this->checkWritable();
        $this->accessed = true;
        $this->data = [];
        $this->destroyed = true;
        $this->renew = false;
        $this->maxAge = null;
    }

    /** End the user's other sessions (X-Session-Destroy: others); needs session.userKey. */
    public function destroyOthers(): void
    {
        $this->checkWritable();
        $this->accessed = true;
        $this->destroyOthers = true;
    }

    /** End this session and the user's others (X-Session-Destroy: all); needs session.userKey. */
    public function destroyAll(): void
    {
        $this->destroy();
        $this->destroyOthers = true;
    }

    /** This session's lifetime: milliseconds (up to 100 years) or 'session' (X-Session-Max-Age). */
    public function setMaxAge(int|string $ms): void
    {
        if ($ms !== 'session' && (!is_int($ms) || $ms < 1 || $ms > MAX_AGE_LIMIT)) {
            throw new \ValueError("sessionproxy: max age must be 1 ms to 100 years or 'session'");
        }
        $this->checkWritable();
        $this->accessed = true;
        $this->maxAge = $ms;
    }

    /**
     * The directive headers for this request's changes: [name, value]
     * pairs, none when nothing changed.
     *
     * @return list<array{string, string}>
     */
    public function directives(): array
    {
        if ($this->claims === []) {
            return [];
        }
        $h = $this->header;
        $after = $this->current();
        $out = [];
        if ($this->destroyed) {
            $out[] = ["$h-Destroy", $this->destroyOthers ? 'all' : 'true'];
            if ($after !== []) {
                // The new session, often the old one's data set again (a
                // hand-made regenerate): its objects stay objects too.
                $out[] = ["$h-Set", encode(strip_nulls(reshape($after, $this->shape), true))];
            }
        } else {
            if ($this->destroyOthers) {
                $out[] = ["$h-Destroy", 'others'];
            }
            $patch = diff($this->before, $after, $this->shape);
            if ((array) $patch !== []) {
                $out[] = ["$h-Set", encode($patch)];
            }
            if ($this->renew) {
                $out[] = ["$h-Renew", 'true'];
            }
        }
        if ($this->maxAge !== null) {
            $out[] = ["$h-Max-Age", (string) $this->maxAge];
        }
        return $out;
    }

    /**
     * The header_register_callback(): writes the directives and, when the
     * app read the session, Vary: Cookie. Directive headers the app wrote
     * itself with header() would undo or add to the session's changes, so
     * they are removed first. A session that cannot be written (a value
     * JSON cannot carry) turns the response into a 500 rather than losing
     * the change.
     */
    public function writeHeaders(): void
    {
        foreach (['Set', 'Destroy', 'Renew', 'Max-Age'] as $d) {
            header_remove("$this->header-$d");
        }
        try {
            foreach ($this->directives() as [$name, $value]) {
                header("$name: $value", false);
            }
            $this->sent = $this->current();
        } catch (\Throwable $e) {
            error_log('sessionproxy: the session could not be sent: ' . $e->getMessage());
            http_response_code(500);
            $this->sent = $this->data; // reported; not again at shutdown
        }
        if ($this->accessed && !variesOnCookie(headers_list())) {
            header('Vary: Cookie', false);
        }
    }

    /** At shutdown: a nested change made after the headers went out is logged, not lost silently. */
    public function checkLateChanges(): void
    {
        if ($this->sent !== null && !same($this->sent, $this->current())) {
            error_log('sessionproxy: the session changed after the headers were sent; the change is lost');
        }
    }

    private function checkWritable(): void
    {
        if ($this->claims === []) {
            throw new \LogicException('sessionproxy: no valid token, so no session to change');
        }
        if ($this->sent !== null) {
            $msg = 'sessionproxy: the headers were sent; this session change would be lost';
            error_log($msg);
            throw new HeadersSent($msg);
        }
    }

    private function checkKey(mixed $key): void
    {
        if (!is_string($key) && !is_int($key)) {
            throw new \TypeError('sessionproxy: a session key is a string');
        }
        if (str_starts_with((string) $key, '_')) {
            throw new \ValueError("sessionproxy: session key '$key' is reserved: keys starting with '_' are the proxy's");
        }
    }
}

/**
 * The smallest RFC 7396 merge patch from $before to $after: changed keys
 * only, a removed key as null, maps diffed key by key, lists and scalars
 * replaced whole. An empty object means no change.
 */
function diff(array $before, array $after, ?\stdClass $shape = null): \stdClass
{
    $patch = new \stdClass();
    foreach ($before as $k => $v) {
        if (($after[$k] ?? null) === null && $v !== null) {
            $patch->{$k} = null;
        }
    }
    foreach ($after as $k => $v) {
        if ($v === null) {
            continue;
        }
        $old = $before[$k] ?? null;
        $was = $shape !== null && property_exists($shape, (string) $k) ? $shape->{$k} : null;
        $listLike = list_like_object($was) && is_array($old);
        if ((is_map($old) || $listLike) && (is_map($v) || $v === [] || ($listLike && is_array($v)))) {
            $sub = diff((array) $old, (array) $v, $was instanceof \stdClass ? $was : null);
            if ((array) $sub !== []) {
                $patch->{$k} = $sub;
            }
        } elseif ($old === null || !same($old, $v)) {
            $patch->{$k} = strip_nulls(reshape($v, $was), false);
        }
    }
    return $patch;
}

/** A JSON object that PHP reads as a non-empty list: its keys are "0", "1", ... */
function list_like_object(mixed $was): bool
{
    return $was instanceof \stdClass && (array) $was !== [] && array_is_list((array) $was);
}

/**
 * $v, a value the app left or changed, with the arrays that were JSON
 * objects where $was (the token's value at the same place) had one made
 * objects again: an empty array, or a list where the object had keys
 * "0", "1", ... Other arrays are as PHP sends them.
 */
function reshape(mixed $v, mixed $was): mixed
{
    if (!is_array($v)) {
        return $v;
    }
    if ($was instanceof \stdClass) {
        $object = $v === [] || (array_is_list($v) && list_like_object($was));
        $out = $object ? new \stdClass() : [];
        foreach ($v as $k => $x) {
            $y = reshape($x, property_exists($was, (string) $k) ? $was->{$k} : null);
            $object ? $out->{$k} = $y : $out[$k] = $y;
        }
        return $out;
    }
    if (is_array($was) && array_is_list($v)) {
        foreach ($v as $i => $x) {
            $v[$i] = reshape($x, $was[$i] ?? null);
        }
    }
    return $v;
}

/** A JSON object's shape: a non-list array or a stdClass. */
function is_map(mixed $v): bool
{
    return $v instanceof \stdClass || (is_array($v) && $v !== [] && !array_is_list($v));
}

/** JSON equality: true is not 1, 1 is 1.0, maps by key in any order, lists in order. */
function same(mixed $a, mixed $b): bool
{
    if (is_bool($a) || is_bool($b) || is_string($a) || is_string($b) || $a === null || $b === null) {
        return $a === $b;
    }
    if ((is_int($a) || is_float($a)) && (is_int($b) || is_float($b))) {
        return $a == $b;
    }
    if ($a instanceof \stdClass || $b instanceof \stdClass) {
        $a = $a instanceof \stdClass ? (array) $a : $a;
        $b = $b instanceof \stdClass ? (array) $b : $b;
        return is_array($a) && is_array($b) && ($a === [] || !array_is_list($a)) && ($b === [] || !array_is_list($b)) && same($a, $b);
    }
    if (is_array($a) && is_array($b)) {
        if (count($a) !== count($b) || array_is_list($a) !== array_is_list($b)) {
            return false;
        }
        foreach ($a as $k => $v) {
            if (!array_key_exists($k, $b) || !same($v, $b[$k])) {
                return false;
            }
        }
        return true;
    }
    return $a == $b; // JsonSerializable and such: compared as PHP compares them
}

/** A new value with a map's null members dropped (a patch would read them as deletions). */
function strip_nulls(mixed $v, bool $top): mixed
{
    if (!is_map($v) && !($top && is_array($v))) {
        return $v;
    }
    $out = new \stdClass();
    foreach ((array) $v as $k => $x) {
        if ($x !== null) {
            $out->{$k} = strip_nulls($x, false);
        }
    }
    return $out;
}

/**
 * JSON as the proxy reads a header value: ASCII only (\uXXXX for the
 * rest, and for DEL, which json_encode leaves raw), slashes escaped as
 * json_encode does by default. Throws JsonException for what JSON cannot
 * carry (invalid UTF-8, INF, NAN, resources).
 */
function encode(\stdClass $patch): string
{
    return str_replace("\x7f", '\u007f', json_encode($patch, JSON_THROW_ON_ERROR | JSON_PRESERVE_ZERO_FRACTION));
}

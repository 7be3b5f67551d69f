package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// runPHP runs src, a PHP file's text, with the include required, and
// returns what it printed; the test fails on a non-zero exit.
func runPHP(t *testing.T, src string) string {
	t.Helper()
	php := requireTool(t, "php")
	lib, err := filepath.Abs("../examples/php/sessionproxy.php")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "check.php")
	src = "<?php\ndeclare(strict_types=1);\nob_start(); // start() refuses to run once output went out\nrequire '" + lib + "';\n" + src
	if err := os.WriteFile(script, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(php, "-d", "display_errors=stderr", script).CombinedOutput()
	if err != nil {
		t.Fatalf("php: %v\n%s", err, out)
	}
	return string(out)
}

// phpMint is PHP that defines mint($sess), an HS256 token of the proxy's
// shape signed with testSecret, valid for a minute.
const phpMint = `
function mint(mixed $sess): string {
    $b = fn (string $s) => rtrim(strtr(base64_encode($s), '+/', '-_'), '=');
    $h = $b('{"alg":"HS256","typ":"JWT"}');
    $p = $b(json_encode(['sid' => 's1', 'sess' => $sess, 'new' => false, 'iss' => 'sessionproxy', 'exp' => time() + 60]));
    return "$h.$p." . $b(hash_hmac('sha256', "$h.$p", getenv('SECRET') ?: '` + testSecret + `', true));
}
`

// TestPHPIncludeVectors: the include against sdk/testdata/vectors.json,
// as sdk/go, sdk/python and sdk/node are checked: each HS256 token is
// accepted with the vector's claims (as PHP arrays), or refused naming
// the vector's reason; and each patch vector,
// its before arriving in a token through start() and its after set by
// the app (stdClass where the app means a JSON object), gives exactly the
// vector's X-Session-Set.
func TestPHPIncludeVectors(t *testing.T) {
	t.Parallel()
	vectors, err := filepath.Abs("../sdk/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	out := runPHP(t, phpMint+`
$d = json_decode(file_get_contents('`+vectors+`'));
foreach ($d->tokens as $v) {
    if (!isset($v->secret)) {
        continue; // JWKS: not the include's
    }
    try {
        $c = SessionProxy\verify($v->token, $v->secret, $v->audience ?? null);
        if (isset($v->error)) {
            echo "token {$v->name}: accepted, want refused ({$v->error})\n";
        } elseif ($c != json_decode(json_encode($v->claims), true)) { // as PHP arrays: {} is []
            echo "token {$v->name}: claims " . json_encode($c) . "\n";
        }
    } catch (SessionProxy\InvalidToken $e) {
        if (!isset($v->error) || !str_starts_with($e->getMessage(), $v->error)) {
            echo "token {$v->name}: refused (" . $e->getMessage() . "), want " . ($v->error ?? 'accepted') . "\n";
        }
    }
}
foreach ($d->patches as $v) {
    $_SERVER['HTTP_X_SESSION'] = mint($v->before);
    $s = SessionProxy\start(secret: '`+testSecret+`');
    foreach ($s->toArray() as $k => $_) {
        if (!property_exists($v->after, (string) $k)) {
            unset($s[$k]);
        }
    }
    foreach ($v->after as $k => $x) {
        $s[$k] = $x;
    }
    $set = null;
    foreach ($s->directives() as [$name, $value]) {
        if ($name === 'X-Session-Set') {
            $set = $value;
        }
    }
    $want = $v->patch === null ? null : json_encode($v->patch, JSON_PRESERVE_ZERO_FRACTION);
    if ($set !== $want && ($set === null || $want === null || json_decode($set) != json_decode($want))) {
        echo "patch {$v->name}: X-Session-Set " . var_export($set, true) . ", want " . var_export($want, true) . "\n";
    }
}
`)
	if out = strings.TrimSpace(out); out != "" {
		t.Error(out)
	}
}

// startPHPScript serves src, a whole PHP script, with php -S (one
// process, no workers); lib in src is replaced by the include's path.
func startPHPScript(t *testing.T, src string) string {
	t.Helper()
	php := requireTool(t, "php")
	lib, err := filepath.Abs("../examples/php/sessionproxy.php")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "page.php")
	if err := os.WriteFile(script, []byte(strings.ReplaceAll(src, "LIB", lib)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, m := startProcess(t, phpServing, []string{"UPSTREAM_SECRET=" + testSecret}, php, "-S", "127.0.0.1:0", script)
	return "http://" + m[1]
}

// TestPHPIncludeStartAfterOutput: start() after output went out (a BOM,
// an echo flushed, output_buffering off as in php -S and many php-fpm
// setups) registers a header callback that never runs; its changes must
// not vanish without a word: start() throws HeadersSent.
func TestPHPIncludeStartAfterOutput(t *testing.T) {
	t.Parallel()
	up := startPHPScript(t, `<?php
declare(strict_types=1);
require 'LIB';
echo "hello\n";
flush();
try {
    $session = SessionProxy\start(secret: getenv('UPSTREAM_SECRET'));
} catch (SessionProxy\HeadersSent $e) {
    echo 'refused: ', $e->getMessage();
    exit;
}
$session['a'] = 1;
echo 'changed';
`)
	resp, body := get(t, plainClient(), up+"/", "X-Session: "+mintToken(t, map[string]any{}))
	if resp.Header.Get("X-Session-Set") == "" && !strings.Contains(body, "refused: ") {
		t.Errorf("status %d, X-Session-Set %q, body %q: the change was lost without an error", resp.StatusCode, resp.Header.Get("X-Session-Set"), body)
	}
}

// mintToken is an HS256 token of the proxy's shape for sess, signed with
// testSecret, valid for a minute.
func mintToken(t *testing.T, sess map[string]any) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sid": "s1", "sess": sess, "new": false,
		"iss": "sessionproxy", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(),
	}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestPHPIncludeKeepsObjects: PHP reads a JSON object that is empty, or
// keyed "0", "1", ..., as an array it cannot tell from a list; a change
// near such data must not send it back as a list, turning the app's
// untouched {} into [] (as the Go, Python and Node libraries never do):
// not in a patch, not in a destroyed session set again, not in
// json_encode($session).
func TestPHPIncludeKeepsObjects(t *testing.T) {
	t.Parallel()
	out := runPHP(t, phpMint+`
$cases = [
    // the token's session, the app's change, the X-Session-Set wanted
    ['{"cart":[{"opts":{}}]}', fn ($s) => $s['cart'][] = 'x', '{"cart":[{"opts":{}},"x"]}'],
    ['{"m":{"0":"a"}}', fn ($s) => $s['m'][1] = 'b', '{"m":{"1":"b"}}'],
    ['{"m":{"0":"a","1":"b"}}', function ($s) { unset($s['m'][1]); }, '{"m":{"1":null}}'],
    ['{"l":[{"0":"z"}]}', fn ($s) => $s['l'][0][] = 'y', '{"l":[{"0":"z","1":"y"}]}'],
    ['{"a":{"x":1}}', fn ($s) => $s['a'] = [1, 2], '{"a":[1,2]}'],
    // a write of another key leaves the empty objects to the proxy, untouched
    ['{"prefs":{},"user":{"prefs":{}}}', fn ($s) => $s['a'] = 1, '{"a":1}'],
    ['{"user":{"prefs":{},"n":1}}', fn ($s) => $s['user']['n'] = 2, '{"user":{"n":2}}'],
    // destroyed and set again by hand: the new session keeps the objects
    ['{"prefs":{},"user":{"prefs":{},"n":1}}', function ($s) {
        $all = $s->toArray();
        $s->destroy();
        foreach ($all as $k => $v) {
            $s[$k] = $v;
        }
    }, '{"prefs":{},"user":{"prefs":{},"n":1}}'],
];
foreach ($cases as [$sess, $change, $want]) {
    $_SERVER['HTTP_X_SESSION'] = mint(json_decode($sess));
    $s = SessionProxy\start(secret: '`+testSecret+`');
    $change($s);
    $set = null;
    foreach ($s->directives() as [$name, $value]) {
        if ($name === 'X-Session-Set') {
            $set = $value;
        }
    }
    if ($set !== $want) {
        echo "$sess: X-Session-Set " . var_export($set, true) . ", want $want\n";
    }
}
// json_encode($session), the app writing the session out, keeps them too.
$_SERVER['HTTP_X_SESSION'] = mint(json_decode('{"prefs":{},"user":{"prefs":{},"l":[{}]}}'));
$s = SessionProxy\start(secret: '`+testSecret+`');
$s['a'] = 1;
if (($got = json_encode($s)) !== '{"prefs":{},"user":{"prefs":{},"l":[{}]},"a":1}') {
    echo "json_encode(\$session): $got\n";
}
`)
	if out = strings.TrimSpace(out); out != "" {
		t.Error(out)
	}
}

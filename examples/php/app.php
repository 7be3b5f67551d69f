<?php
/**
 * koa-session's "full application example" in plain PHP, behind sessionproxy.
 *
 *     UPSTREAM_SECRET=... php -S 127.0.0.1:8080 app.php   # then run sessionproxy in front of it
 *
 * /set, /get, /destroy and /renew are koa-session's example; /login renews
 * after a login; /count, /cart/add and /put change one key each (/put?ms=
 * waits first, so that two requests of one session can overlap); /whoami
 * shows what the proxy sent. /signin?id= logs user ID in
 * ($session['user']['id']), /logout-others ends that user's other sessions
 * and /logout-all all of them: these two need the proxy's session.userKey
 * set to user.id. UPSTREAM_HEADER: the proxy's token.header, when it is
 * not X-Session; UPSTREAM_OLD_SECRET: the token.secret before a rotation;
 * UPSTREAM_AUDIENCE: the token.audience, when one is set.
 */

declare(strict_types=1);

require __DIR__ . '/sessionproxy.php';

$session = SessionProxy\start(
    secret: getenv('UPSTREAM_SECRET') ?: null,
    oldSecrets: array_filter([getenv('UPSTREAM_OLD_SECRET') ?: '']),
    audience: getenv('UPSTREAM_AUDIENCE') ?: null,
    header: getenv('UPSTREAM_HEADER') ?: 'X-Session',
);

function json(mixed $v): void
{
    header('Content-Type: application/json');
    echo json_encode($v, JSON_THROW_ON_ERROR);
}

switch (parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH)) {
    case '/set':
        $session['user'] = ['name' => 'john doe', 'age' => 30];
        echo 'session set';
        break;
    case '/get':
        if (!isset($session['user'])) {
            http_response_code(204); // no session: empty, as koa answers an unset body
            break;
        }
        json($session['user']);
        break;
    case '/destroy':
        $session->destroy();
        echo 'session destroyed';
        break;
    case '/renew':
        $session->regenerate();
        echo 'session renewed';
        break;
    case '/login':
        $session['user'] = ['name' => $_GET['name'] ?? '', 'age' => 30];
        $session->regenerate(); // a new id after a login, against session fixation
        echo 'logged in';
        break;
    case '/signin':
        $session['user'] = ['id' => $_GET['id'] ?? ''];
        $session->regenerate();
        echo 'signed in';
        break;
    case '/logout-others':
        $session->destroyOthers(); // "log out my other devices": this session stays
        echo 'other devices logged out';
        break;
    case '/logout-all':
        $session->destroyAll(); // "log out everywhere", this device too
        echo 'logged out everywhere';
        break;
    case '/count':
        $session['views'] = ($session['views'] ?? 0) + 1;
        json(['views' => $session['views']]);
        break;
    case '/cart/add':
        $session['cart'][] = $_GET['item'] ?? ''; // a nested change is sent too
        json(['cart' => $session['cart']]);
        break;
    case '/put':
        usleep(1000 * (int) ($_GET['ms'] ?? 0));
        $session[$_GET['key'] ?? ''] = $_GET['value'] ?? '';
        echo 'session changed';
        break;
    case '/whoami':
        json(['sid' => $session->id, 'new' => $session->isNew, 'session' => $session]);
        break;
    default:
        http_response_code(404);
        echo 'not found';
}

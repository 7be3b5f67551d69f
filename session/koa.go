package session

import (
	"errors"
	"net/http"
)

// koaCodec is FormatKoa: koa-session's cookie with a keygrip signature.
type koaCodec struct {
	keys   []string
	signed bool
}

func newKoaCodec(keys []string, signed bool) (*koaCodec, error) {
	return nil, errors.New("format koa is not implemented yet")
}

func (c *koaCodec) read(r *http.Request, name string) readResult { return readResult{} }
func (c *koaCodec) write(h http.Header, ck http.Cookie, payload []byte) error {
	return errors.New("format koa is not implemented yet")
}
func (c *koaCodec) expire(h http.Header, ck http.Cookie)                {}
func (c *koaCodec) repair(h http.Header, ck http.Cookie, rr readResult) {}

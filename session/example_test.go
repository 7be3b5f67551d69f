package session_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sessionproxy/sessionproxy/session"
)

// An upstream's X-Session-Set is an RFC 7396 merge patch: members are set,
// null deletes, nested objects merge, and numbers stay exactly as written.
func ExampleMergePatch() {
	data := []byte(`{"user":{"name":"john doe","age":30},"cart":[1,2]}`)
	patch := []byte(`{"user":{"age":31},"cart":null,"id":12345678901234567891}`)
	out, err := session.MergePatch(data, patch)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))
	// Output: {"id":12345678901234567891,"user":{"age":31,"name":"john doe"}}
}

// A Manager loads the session of each request and commits what the app
// asked for: here, with sessions kept in the proxy's memory, a first
// request starts a session, and the next one, with its cookie, finds it.
func ExampleManager() {
	m, err := session.New(session.Options{
		Keys:  []string{"a long random key, from your secrets"},
		Store: session.NewMemoryStore(session.MemoryOptions{}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	first := httptest.NewRequest(http.MethodGet, "/login", nil)
	s, err := m.Load(ctx, first)
	if err != nil {
		fmt.Println(err) // only when the store cannot be reached
		return
	}
	fmt.Println("new:", s.IsNew, string(s.Data))
	header := http.Header{} // the response's, before it is sent
	login := session.Change{Set: [][]byte{[]byte(`{"user":{"name":"john doe"}}`)}}
	if _, err := m.Commit(ctx, first, s, login, header); err != nil {
		fmt.Println(err)
		return
	}

	next := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range (&http.Response{Header: header}).Cookies() {
		next.AddCookie(c)
	}
	again, err := m.Load(ctx, next)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("new:", again.IsNew, string(again.Data), "same id:", again.ID == s.ID)
	// Output:
	// new: true {}
	// new: false {"user":{"name":"john doe"}} same id: true
}

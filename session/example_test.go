package session_test

import (
	"fmt"

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

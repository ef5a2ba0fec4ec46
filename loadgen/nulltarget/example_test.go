package nulltarget_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/sessionbench/sessionbench/loadgen/nulltarget"
)

// The null target answers the sessiond API at once, with no token check
// and no storage: what a generator measures against it is its own cost.
func ExampleStart() {
	s, err := nulltarget.Start("", nulltarget.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	res, err := http.Post(s.URL()+"/v1/sessions", "application/json", strings.NewReader(`{}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	fmt.Println("create:", res.StatusCode, "sets a cookie:", len(res.Cookies()) == 1)
	fmt.Println("requests answered:", s.Requests())
	// Output:
	// create: 201 sets a cookie: true
	// requests answered: 1
}

// The reference for sealer's Go template engine: Go's own text/template with sprig 3.2.3's GenericFuncMap, minus
// the functions Bitnami's controller removes (env, expandenv, getHostByName). Reads a JSON array of cases
// ({"t": template, "d": map of strings, or "j": any JSON when "usej" is set}) on stdin; prints one JSON array of
// results ({"ok": bool, "out": base64 bytes, "err": Go's message}) on stdout.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"text/template"

	sprig "github.com/Masterminds/sprig"
)

type testCase struct {
	T    string            `json:"t"`
	D    map[string]string `json:"d"`
	J    interface{}       `json:"j"`
	UseJ bool              `json:"usej"`
	// M runs with Option("missingkey=error"), as External Secrets' v2 engine does.
	M bool `json:"m"`
}

type result struct {
	OK  bool   `json:"ok"`
	Out []byte `json:"out"`
	Err string `json:"err"`
}

func render(funcs template.FuncMap, c testCase) (r result) {
	defer func() {
		if p := recover(); p != nil {
			r = result{Err: fmt.Sprint("panic: ", p)}
		}
	}()
	t := template.New("item").Funcs(funcs)
	if c.M {
		t = t.Option("missingkey=error")
	}
	t, err := t.Parse(c.T)
	if err != nil {
		return result{Err: err.Error()}
	}
	var data interface{} = c.D
	if c.UseJ {
		data = c.J
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return result{Err: err.Error()}
	}
	return result{OK: true, Out: buf.Bytes()}
}

func main() {
	funcs := sprig.GenericFuncMap()
	for _, name := range []string{"env", "expandenv", "getHostByName"} {
		delete(funcs, name)
	}
	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := make([]result, len(cases))
	for i, c := range cases {
		out[i] = render(funcs, c)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

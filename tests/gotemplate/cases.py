"""Differential cases for sealer.gotemplate: (template, data) pairs rendered by Go and by sealer.

`data` is a dict of strings (what a SealedSecret template sees: Bitnami passes map[string]string) or
("json", value) for any JSON value (numbers become float64, as Go's encoding/json decodes them).
"""

from __future__ import annotations

from typing import Any

DATA = {
    "user": "admin", "password": "s3cr3t&<pw>'\"", "host": "db.example.com", "port": "5432", "empty": "",
    "multi": "line1\nline2\n", "num": "42", "float": "3.75", "neg": "-7", "hex": "0x1F", "octal": "010",
    "json": '{"a":1,"b":[true,null,"x"],"c":{"d":"e"},"f":1.5e3}', "csv": "b,a,c,a", "spaces": "  padded  ",
    "unicode": "héllo wörld ✓", "b64": "c2VjcmV0", "b32": "ONSWG4TFOQ======", "camel": "HTTPServerName2xx",
    "words": "The quick brown fox jumps over the lazy dog", "true": "true", "ctrl": "tab\there\x01",
}
JSON_DATA = ("json", {"s": "str", "n": 3, "f": 2.5, "b": True, "z": None, "l": [1, "two", None, 3.5],
                      "m": {"k": "v", "n": {"deep": 1}}, "e": [], "em": {}, "zero": 0})

STRINGS = ["", "hello", "Hello World", "  x y  ", "héllo", "a\nb\n", "HTTPServer", "snake_case_word",
           "kebab-case-word", "Mixed Case_and-more", "x<y&z>'\"", "ÀÉÎ ünïcödé", "123abc", "tab\tsep",
           "aBc DeF", "über-straße", "GO_PATH", "Bld4Floor3rd", "http2xx", "NoHTTPS"]


def _s(v: str) -> str:
    """A Go string literal for v."""
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def _cases() -> list[tuple[str, Any]]:
    c: list[tuple[str, Any]] = []
    add = c.append
    d = DATA
    # --- text, actions, fields, trim markers, comments
    for t in ["plain text", "", "{{ .user }}", "{{.user}}:{{.password}}", "{{ index . \"user\" }}",
              "postgres://{{ .user }}:{{ .password }}@{{ .host }}:{{ .port }}/app", "{{ .missing }}",
              "{{ .user.x }}", "{{ .missing.x }}", "{{ . }}", "{{ $ }}", "{{ $.user }}", "a {{- .user -}} b",
              "a  {{- .user }}  b", "a {{ .user -}}\n\n  b", "{{- /* comment */ -}} x", "{{/* c */}}y",
              "x {{- /* c */}} y", "{{ /* bad */ }}", "{{/* unclosed", "{{ .user", "{{ }}", "{{ end }}",
              "{{ else }}", "{{-3}}", "{{- 3 -}}", "{{ 3 }}{{ -3 }}{{ +3 }}", "{{ 1.5 }}{{ 1e3 }}{{ 0x10 }}",
              "{{ 'a' }}", "{{ 0b101 }} {{ 0o17 }} {{ 017 }} {{ 1_000 }}", "{{ true }} {{ false }}", "{{ nil }}",
              "{{ \"a\\tb\" }}", "{{ `raw\\n` }}", "{{ \"\\u00e9\\x41\" }}", "{{ .user | printf \"%s!\" }}",
              "{{ .multi }}", "{{ .unicode }}", "{{ .ctrl }}", "{{\n.user\n}}", "{{ .user }}{{ .user }}",
              "{{ .user . }}", "{{ \"x\" | upper | lower }}", "{{ .user | \"x\" }}", "{{ 1 2 }}", "{{ (.user) }}",
              "{{ (.user).x }}", "{{ (dict \"a\" 1).a }}", "{{ (dict \"a\" (dict \"b\" 2)).a.b }}",
              "{{ nil.x }}", "{{ $x }}", "{{ undefined }}", "{{ .user | undefinedfn }}", "{{ .a-b }}",
              "{{ .user }", "{{ \"unterminated }}", "{{ @ }}", "{{ 3x }}", "{{ 1.2.3 }}", "{{ ( }}",
              "{{ ) }}", "{{ (1 }}", "{{ .user | }}", "{{ | .user }}", "{{ printf }}"]:
        add((t, d))
    # --- variables
    for t in ["{{ $x := .user }}{{ $x }}", "{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", "{{ $x = 1 }}",
              "{{ $x := .user }}{{ $x | upper }}", "{{ $a, $b := 1 }}", "{{ $x := dict \"k\" \"v\" }}{{ $x.k }}",
              "{{ if true }}{{ $x := 1 }}{{ end }}{{ $x }}", "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}",
              "{{ $x := 1 }}{{ with .user }}{{ $x := 5 }}{{ $x }}{{ end }}{{ $x }}", "{{ $ := 1 }}",
              "{{ $x := .missing }}{{ $x }}", "{{ $x }}{{ $x := 1 }}", "{{ ($x := 3) }} {{ $x }}",
              "{{ $u := .user }}{{ range list 1 2 }}{{ $u }}{{ . }}{{ end }}", "{{ $x := 1 }}{{ $x 2 }}"]:
        add((t, d))
    # --- if / else / with / range
    for t in ["{{ if .user }}yes{{ end }}", "{{ if .empty }}yes{{ else }}no{{ end }}",
              "{{ if .missing }}a{{ else if .user }}b{{ else }}c{{ end }}",
              "{{ if eq .port \"5432\" }}pg{{ else if eq .port \"3306\" }}my{{ end }}",
              "{{ if and .user .password }}both{{ end }}", "{{ if or .empty .missing }}x{{ else }}none{{ end }}",
              "{{ if not .empty }}ne{{ end }}", "{{ with .user }}{{ . }}{{ end }}",
              "{{ with .empty }}x{{ else }}e{{ end }}",
              "{{ with $x := .host }}{{ $x }}{{ end }}", "{{ range splitList \",\" .csv }}[{{ . }}]{{ end }}",
              "{{ range $i, $v := splitList \",\" .csv }}{{ $i }}={{ $v }};{{ end }}",
              "{{ range $v := list 1 2 3 }}{{ $v }}{{ end }}", "{{ range list }}x{{ else }}empty{{ end }}",
              "{{ range $k, $v := dict \"b\" 2 \"a\" 1 }}{{ $k }}:{{ $v }} {{ end }}",
              "{{ range . }}{{ . }},{{ end }}", "{{ range $k, $v := . }}{{ $k }} {{ end }}",
              "{{ range .missing }}x{{ else }}none{{ end }}", "{{ range .user }}x{{ end }}", "{{ range 3 }}x{{ end }}",
              "{{ range list 1 2 3 4 }}{{ if eq . 3 }}{{ break }}{{ end }}{{ . }}{{ end }}",
              "{{ range list 1 2 3 4 }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ . }}{{ end }}", "{{ break }}",
              "{{ if true }}{{ continue }}{{ end }}", "{{ range $i, $v := list \"a\" \"b\" }}{{ $i }}{{ end }}{{ $i }}",
              "{{ if }}x{{ end }}", "{{ if true }}x", "{{ if true }}x{{ else }}y{{ else }}z{{ end }}",
              "{{ with .user }}x{{ else if .host }}y{{ end }}", "{{ range list 1 }}x{{ else if true }}y{{ end }}",
              "{{ if .user -}}\n  yes\n{{- end }}", "{{ range $i, $v := list 1 2 }}{{ $i }}{{ $v }}{{ end }}",
              "{{ range list (list 1 2) (list 3) }}{{ range . }}{{ . }}{{ end }};{{ end }}",
              "{{ $n := 0 }}{{ range list 1 2 3 }}{{ $n = add $n . }}{{ end }}{{ $n }}",
              "{{ range $x := list 1 }}{{ end }}{{ $x }}", "{{ range $a, $b, $c := list 1 }}{{ end }}",
              "{{ with dict \"a\" 1 }}{{ .a }}{{ end }}", "{{ if 0 }}a{{ else }}b{{ end }}{{ if 0.0 }}a{{ end }}",
              "{{ if list }}a{{ else }}b{{ end }}{{ if dict }}a{{ else }}b{{ end }}",
              "{{ if \"0\" }}t{{ end }}", "{{ if .user }}{{ end }}",
              "{{ with .user }}{{ with .x }}a{{ end }}{{ end }}"]:
        add((t, d))
    # --- define / template / block
    for t in ["{{ define \"x\" }}X{{ . }}{{ end }}{{ template \"x\" .user }}",
              "{{ define \"x\" }}[{{ .user }}]{{ end }}{{ template \"x\" . }}", "{{ template \"nope\" }}",
              "{{ block \"b\" .host }}<{{ . }}>{{ end }}", "{{ define \"x\" }}{{ $ }}{{ end }}{{ template \"x\" 5 }}",
              "{{ define \"x\" }}a{{ end }}{{ define \"x\" }}b{{ end }}{{ template \"x\" }}",
              "{{ define \"x\" }}{{ template \"x\" . }}{{ end }}{{ template \"x\" }}" if False else
              "{{ define \"r\" }}{{ if . }}{{ first . }}{{ template \"r\" rest . }}{{ end }}{{ end }}"
              "{{ template \"r\" list 1 2 3 }}",
              "{{ define \"x\" }}{{ $y }}{{ end }}", "{{ template .user }}", "{{ define \"x\" }}x",
              "{{ template \"x\" }}{{ define \"x\" }}late{{ end }}", "{{ define 1 }}{{ end }}",
              "{{ if true }}{{ define \"x\" }}{{ end }}{{ end }}", "{{ template \"x\" 1 2 }}",
              "{{ define \"x\" }}{{ break }}{{ end }}"]:
        add((t, d))
    # --- comparisons and logic builtins
    for a, b in [("1", "1"), ("1", "2"), ("2", "1"), ("1.5", "1.5"), ("\"a\"", "\"b\""), ("\"b\"", "\"a\""),
                 ("\"a\"", "1"), ("1", "1.0"), ("true", "true"), ("true", "false"), ("(add 1 1)", "2"),
                 ("(list)", "(list)"), (".missing", "\"x\""), (".missing", ".nothing"), ("nil", "nil"),
                 (".user", "\"admin\""), ("(int64 3)", "3"), (".port", "5432")]:
        for op in ["eq", "ne", "lt", "le", "gt", "ge"]:
            add((f"{{{{ {op} {a} {b} }}}}", d))
    for t in ["{{ eq 1 2 3 1 }}", "{{ eq 1 }}", "{{ and 1 0 2 }}", "{{ and 1 2 }}", "{{ or 0 \"\" }}",
              "{{ or 0 \"x\" 3 }}", "{{ and }}", "{{ not 0 }}", "{{ not \"x\" }}", "{{ not 1 2 }}",
              "{{ and .missing (index .missing \"x\") }}", "{{ or .user (fail \"x\") }}", "{{ and 1 .missing }}",
              "{{ .user | and 1 }}", "{{ .empty | or \"dflt\" }}"]:
        add((t, d))
    # --- len, index, slice builtins and print family
    for t in ["{{ len .user }}", "{{ len .unicode }}", "{{ len (list 1 2) }}", "{{ len . }}", "{{ len 3 }}",
              "{{ len .missing }}", "{{ index . \"user\" }}", "{{ index . \"nope\" }}", "{{ index (list 1 2) 1 }}",
              "{{ index (list 1 2) 2 }}", "{{ index (list 1 2) -1 }}", "{{ index .user 0 }}",
              "{{ index (list (list 1 2)) 0 1 }}", "{{ index (dict \"a\" (dict \"b\" 3)) \"a\" \"b\" }}",
              "{{ index (dict) \"x\" }}", "{{ index .missing \"x\" }}", "{{ index 3 0 }}", "{{ index . 1 }}",
              "{{ index (list 1) \"a\" }}", "{{ index (list 1 2) }}", "{{ .missing | index }}",
              "{{ print 1 2 \"a\" \"b\" 3 }}", "{{ print }}", "{{ print nil }}", "{{ print .missing }}",
              "{{ println 1 \"a\" }}", "{{ print (list 1 \"a\") (dict \"k\" 1.5) }}", "{{ print 1.0 2.5 1e7 }}",
              "{{ html .password }}", "{{ html \"<a href='x'>&amp;</a>\" 3 }}", "{{ js .password }}",
              "{{ js \"a\\nb=c\\u2028é\" }}", "{{ urlquery .password }}", "{{ urlquery \"a b/c?d=é\" }}",
              "{{ urlquery 1 \"x\" }}", "{{ call .user }}", "{{ .password | html }}"]:
        add((t, d))
    # --- printf verbs
    for fmt, args in [("%s", ".user"), ("%q", ".password"), ("%v", "(list 1 \"a\" nil)"), ("%d", "42"),
                      ("%5d|%-5d|%05d", "42 42 42"), ("%x %X", "255 255"), ("%x", ".user"), ("% x", "\"ab\""),
                      ("%#x %#o %b", "255 8 5"), ("%o %O", "8 8"), ("%c %U", "65 233"), ("%q", "65"),
                      ("%f %.2f %8.3f", "3.14159 3.14159 3.14159"), ("%e %E %.3e", "1234.5678 1234.5678 0.00012"),
                      ("%g %G %.3g", "1234.5678 1e-7 1234.5678"), ("%t %t", "true false"), ("%v %v", "1.0 2.5"),
                      ("%T %T %T %T", "1 1.5 \"x\" true"), ("%T %T %T", "(list) (dict) (splitList \",\" \"a\")"),
                      ("%T %T", "(add 1 1) .user"), ("%s", "5"), ("%d", "\"x\""), ("%d %d", "1"), ("%d", "1 2"),
                      ("%%", ""), ("%!", ""), ("%", ""), ("%-8s|%8s|", "\"ab\" \"cd\""), ("%.2s", "\"abcdef\""),
                      ("%+d % d", "5 5"), ("%+.1f", "2.25"), ("%v", "(dict \"b\" 1 \"a\" (list 1 2))"),
                      ("%s", "(list \"a\" \"b\")"), ("%d", "(list 1 2)"), ("%v", ".missing"), ("%s", "nil"),
                      ("%5.1f|%-7.2f|", "3.14159 2.5"), ("%x", "-255"), ("%v", "(float64 \"1e21\")"),
                      ("%v %v %v", "0.000001 0.00001 123456789.0"), ("%08.3f", "-3.14159"), ("%q", "\"\\x00é\\t\"")]:
        add((f"{{{{ printf \"{fmt}\" {args} }}}}", d))
    # --- sprig strings over many inputs
    for s in STRINGS:
        q = _s(s)
        for fn in ["upper", "lower", "title", "untitle", "trim", "snakecase", "camelcase", "kebabcase", "quote",
                   "squote", "b64enc", "b32enc", "sha256sum", "nospace", "len"]:
            add((f"{{{{ {q} | {fn} }}}}", d))
    for t in ["{{ trimAll \"$\" \"$$5.00$\" }}", "{{ trimall \"-\" \"--x-\" }}", "{{ trimPrefix \"db.\" .host }}",
              "{{ trimSuffix \".com\" .host }}",
              "{{ trimPrefix \"\" .host }}", "{{ repeat 3 \"ab\" }}", "{{ repeat 0 \"x\" }}", "{{ repeat -1 \"x\" }}",
              "{{ .user | repeat 2 }}", "{{ repeat (atoi \"2\") \"z\" }}", "{{ repeat (add 1 1) \"z\" }}",
              "{{ substr 0 3 .host }}", "{{ substr 3 -1 .host }}", "{{ substr -1 2 .host }}",
              "{{ substr 2 100 .host }}",
              "{{ substr 5 2 .host }}", "{{ substr 1 3 .unicode }}", "{{ trunc 5 .host }}", "{{ trunc -3 .host }}",
              "{{ trunc 100 .host }}", "{{ trunc 2 .unicode }}", "{{ abbrev 8 .words }}", "{{ abbrev 3 .words }}",
              "{{ abbrev 100 .words }}", "{{ contains \"example\" .host }}", "{{ .host | contains \"zzz\" }}",
              "{{ hasPrefix \"db\" .host }}", "{{ hasSuffix \"com\" .host }}", "{{ quote .user .password 1 nil }}",
              "{{ squote .user 2 nil }}", "{{ quote }}", "{{ cat \"a\" 1 nil \"b\" (list 1) }}", "{{ cat }}",
              "{{ indent 4 .multi }}", "{{ nindent 2 .user }}", "{{ indent 0 \"x\" }}", "{{ indent -1 \"x\" }}",
              "{{ .multi | indent 2 }}", "{{ replace \".\" \"-\" .host }}", "{{ replace \"\" \"-\" \"abc\" }}",
              "{{ .host | replace \"example\" \"corp\" }}", "{{ plural \"file\" \"files\" 1 }}",
              "{{ plural \"file\" \"files\" 2 }}", "{{ plural \"a\" \"b\" (len (list 1)) }}", "{{ wrap 10 .words }}",
              "{{ wrap 3 \"abcdefgh ij\" }}", "{{ wrap 0 \"a b\" }}", "{{ splitList \",\" .csv }}",
              "{{ splitList \"\" \"abc\" }}", "{{ split \",\" .csv }}", "{{ (split \",\" .csv)._1 }}",
              "{{ join \"-\" (splitList \",\" .csv) }}", "{{ join \",\" (list 1 \"a\" nil 2.5) }}",
              "{{ join \"+\" \"single\" }}", "{{ join \",\" .missing }}", "{{ sortAlpha (splitList \",\" .csv) }}",
              "{{ sortAlpha (list \"b\" 1 \"a\") }}", "{{ sortAlpha \"x\" }}", "{{ toStrings (list 1 \"a\" nil) }}",
              "{{ toString 5 }}{{ toString 1.5 }}{{ toString nil }}{{ toString (list 1) }}",
              "{{ title \"hello wORLD foo_bar x-y\" }}", "{{ .camel | snakecase }}", "{{ .camel | kebabcase }}",
              "{{ .camel | camelcase }}", "{{ camelcase \"_complex__case_\" }}", "{{ snakecase \"\" }}",
              "{{ upper 3 }}", "{{ upper }}", "{{ upper \"a\" \"b\" }}", "{{ trimAll }}"]:
        add((t, d))
    # --- encoding
    for t in ["{{ .password | b64enc }}", "{{ .b64 | b64dec }}", "{{ b64dec \"not base64!\" }}", "{{ b64dec \"YQ\" }}",
              "{{ b64dec \"YR==\" }}", "{{ b64dec \"\" }}", "{{ .b32 | b32dec }}", "{{ b32dec \"!!\" }}",
              "{{ b64enc \"\" }}", "{{ .unicode | b64enc | b64dec }}", "{{ toJson . }}", "{{ toJson .password }}",
              "{{ toJson (list 1 1.5 \"x\" nil true (dict)) }}", "{{ toJson (dict \"z\" 1 \"a\" (list)) }}",
              "{{ toPrettyJson (dict \"a\" (list 1 (dict \"b\" 2)) \"e\" (list) \"m\" (dict)) }}",
              "{{ toRawJson (dict \"h\" \"<&>\") }}", "{{ toJson \"<&>\\u2028\" }}", "{{ toJson 1e21 }}",
              "{{ toJson 1e-7 }}", "{{ toJson 123456789.0 }}", "{{ toJson 0.000001 }}", "{{ toJson .missing }}",
              "{{ toJson \"\\x01\\n\\t\" }}", "{{ fromJson .json }}", "{{ (fromJson .json).a }}",
              "{{ (fromJson .json).c.d }}", "{{ index (fromJson .json) \"b\" }}", "{{ fromJson \"not json\" }}",
              "{{ fromJson \"[1, 2.5, \\\"x\\\"]\" }}", "{{ toJson (fromJson .json) }}", "{{ fromJson \"3\" }}",
              "{{ fromJson \"NaN\" }}", "{{ fromJson \"1e400\" }}", "{{ printf \"%T\" (fromJson \"1\") }}",
              "{{ (fromJson .json).f }}", "{{ toJson (fromJson \"{\\\"big\\\": 12345678901234567890}\") }}",
              "{{ sha1sum .password }}", "{{ adler32sum .password }}", "{{ sha256sum \"\" }}"]:
        add((t, d))
    # --- defaults
    for t in ["{{ .missing | default \"dflt\" }}", "{{ .empty | default \"dflt\" }}", "{{ .user | default \"dflt\" }}",
              "{{ default \"d\" 0 }}", "{{ default \"d\" 1 }}", "{{ default \"d\" (list) }}",
              "{{ default \"d\" false }}",
              "{{ default \"d\" }}", "{{ default }}", "{{ empty .empty }}", "{{ empty .user }}", "{{ empty 0 }}",
              "{{ empty (dict) }}", "{{ empty .missing }}", "{{ coalesce .missing .empty .user }}", "{{ coalesce }}",
              "{{ coalesce 0 \"\" }}", "{{ ternary \"y\" \"n\" true }}", "{{ ternary \"y\" \"n\" (eq 1 2) }}",
              "{{ true | ternary 1 2 }}", "{{ ternary 1 2 \"x\" }}", "{{ ternary 1 2 .user }}", "{{ all 1 \"a\" }}",
              "{{ all 1 0 }}", "{{ any 0 \"\" 1 }}", "{{ any }}"]:
        add((t, d))
    # --- lists
    for t in ["{{ list }}", "{{ list 1 \"a\" 2.5 nil true }}", "{{ first (list 1 2) }}", "{{ first (list) }}",
              "{{ last (list 1 2) }}", "{{ rest (list 1 2 3) }}", "{{ initial (list 1 2 3) }}", "{{ rest (list) }}",
              "{{ append (list 1) 2 }}", "{{ prepend (list 1) 0 }}", "{{ concat (list 1) (list 2 3) }}",
              "{{ reverse (list 1 2 3) }}", "{{ uniq (list 1 2 1 \"a\" \"a\" (int64 1)) }}",
              "{{ without (list 1 2 3 2) 2 }}", "{{ has 2 (list 1 2) }}", "{{ has \"2\" (list 1 2) }}",
              "{{ has 1 .missing }}", "{{ compact (list 1 0 \"\" nil \"a\" (list)) }}",
              "{{ slice (list 1 2 3 4) 1 3 }}", "{{ slice (list 1 2 3) 1 }}", "{{ slice (list 1 2 3) }}",
              "{{ slice (list) }}", "{{ slice (list 1 2) 3 }}", "{{ slice .user 1 }}",
              "{{ first (splitList \",\" .csv) }}", "{{ last .user }}", "{{ first .missing }}",
              "{{ append .user 1 }}", "{{ concat (list 1) 2 }}", "{{ len (concat) }}", "{{ reverse (list) }}",
              "{{ uniq (splitList \",\" .csv) }}", "{{ printf \"%T\" (slice (splitList \",\" .csv) 1) }}",
              "{{ list 1 2 | first }}", "{{ has (list 1) (list (list 1)) }}", "{{ without (list 1 2) }}",
              "{{ concat (list 1) (splitList \",\" \"a,b\") }}", "{{ tuple 1 2 }}", "{{ push (list 1) 2 }}"]:
        add((t, d))
    # --- dicts
    for t in ["{{ dict \"a\" 1 \"b\" \"two\" }}", "{{ dict \"a\" }}", "{{ dict 1 2 }}", "{{ dict }}",
              "{{ get (dict \"a\" 1) \"a\" }}", "{{ get (dict \"a\" 1) \"b\" }}", "{{ get . \"user\" }}",
              "{{ $d := dict \"a\" 1 }}{{ $_ := set $d \"b\" 2 }}{{ $d }}", "{{ set (dict) \"k\" \"v\" }}",
              "{{ unset (dict \"a\" 1 \"b\" 2) \"a\" }}", "{{ hasKey (dict \"a\" 1) \"a\" }}",
              "{{ hasKey . \"user\" }}",
              "{{ hasKey (dict \"a\" 1) \"b\" }}", "{{ pluck \"a\" (dict \"a\" 1) (dict \"b\" 2) (dict \"a\" 3) }}",
              "{{ keys (dict \"b\" 1 \"a\" 2) | sortAlpha }}", "{{ keys (dict \"b\" 1) (dict \"a\" 2) | sortAlpha }}",
              "{{ values (dict \"a\" 1) }}", "{{ pick (dict \"a\" 1 \"b\" 2 \"c\" 3) \"a\" \"c\" \"z\" }}",
              "{{ omit (dict \"a\" 1 \"b\" 2) \"a\" }}", "{{ dig \"a\" \"b\" \"dflt\" (dict \"a\" (dict \"b\" 1)) }}",
              "{{ dig \"a\" \"x\" \"dflt\" (dict \"a\" (dict \"b\" 1)) }}", "{{ dig \"a\" \"dflt\" (dict) }}",
              "{{ dig \"a\" (dict) }}", "{{ get .missing \"x\" }}", "{{ hasKey .missing \"x\" }}",
              "{{ keys }}", "{{ (dict \"a\" nil).a }}", "{{ (dict \"a\" nil).a.b }}", "{{ (dict \"a\" 1).a.b }}",
              "{{ toJson (dict \"n\" (dict \"m\" (list 1))) }}", "{{ get (fromJson .json) \"a\" }}",
              "{{ dict \"k\" .missing }}", "{{ (dict \"a\" 1).a 2 }}", "{{ .user 1 }}"]:
        add((t, d))
    # --- merge (mergo's rules) and what sprig 3.2.3 does not have (Helm adds toYaml, required; Bitnami removes env...)
    dst = '(dict "a" 1 "e" "" "z" 0 "l" (list 1) "el" (list) "m" (dict "x" 1 "y" "") "s" "str" "n" nil)'
    src = '(dict "a" 2 "e" "filled" "z" 5 "l" (list 9) "el" (list 8) "m" (dict "y" "why" "w" 3) "s" (dict "k" 1) ' \
          '"n" "set" "new" (list 1) "nil" nil "em" "")'
    for fn in ["merge", "mergeOverwrite"]:
        for t in [f"{{{{ {fn} {dst} {src} }}}}", f"{{{{ {fn} (dict) {src} }}}}", f"{{{{ {fn} {dst} (dict) }}}}",
                  f"{{{{ toJson ({fn} {dst} {src} (dict \"a\" 3 \"q\" (dict \"r\" 1))) }}}}",
                  f"{{{{ {fn} (dict \"m\" \"\") (dict \"m\" (dict \"k\" 1)) }}}}",
                  f"{{{{ {fn} (dict \"m\" (dict)) (dict \"m\" (dict \"k\" 1)) }}}}",
                  f"{{{{ {fn} . (dict) }}}}", f"{{{{ {fn} }}}}", f"{{{{ $d := dict }}}}{{{{ $_ := {fn} $d "
                  f"(dict \"k\" 1) }}}}{{{{ $d }}}}"]:
            add((t, d))
    for t in ["{{ toYaml . }}", "{{ required \"x\" .user }}", "{{ env \"HOME\" }}", "{{ expandenv \"$HOME\" }}",
              "{{ getHostByName \"localhost\" }}", "{{ include \"x\" . }}", "{{ tpl \"x\" . }}", "{{ lookup }}"]:
        add((t, d))
    # --- math and conversions
    for t in ["{{ add 1 2 3 }}", "{{ add }}", "{{ add \"2\" 3.7 }}", "{{ add1 5 }}", "{{ sub 5 7 }}", "{{ mul 2 3 4 }}",
              "{{ div 7 2 }}", "{{ div -7 2 }}", "{{ div 1 0 }}", "{{ mod 7 3 }}", "{{ mod -7 3 }}", "{{ mod 1 0 }}",
              "{{ max 1 5 3 }}", "{{ min 4 2 8 }}", "{{ max \"9\" 2 }}", "{{ floor 2.7 }}", "{{ ceil 2.1 }}",
              "{{ floor \"-2.5\" }}", "{{ round 2.456 2 }}", "{{ round 2.5 0 }}", "{{ round 2.4 0 0.3 }}",
              "{{ round \"1.005\" 2 }}", "{{ atoi .port }}", "{{ atoi \"x\" }}", "{{ atoi \" 5\" }}",
              "{{ atoi \"+5\" }}",
              "{{ int .num }}", "{{ int .hex }}", "{{ int .octal }}", "{{ int .float }}", "{{ int \"3.0\" }}",
              "{{ int 3.9 }}", "{{ int true }}", "{{ int nil }}", "{{ int64 .neg }}", "{{ float64 .float }}",
              "{{ float64 \"x\" }}", "{{ float64 3 }}", "{{ add .num 1 }}", "{{ .num | add 1 }}",
              "{{ add 1 .missing }}",
              "{{ printf \"%T\" (int 1) }}", "{{ printf \"%T\" (float64 1) }}", "{{ mul 1.5 2 }}",
              "{{ add 9223372036854775807 1 }}", "{{ int \"1_000\" }}", "{{ sub }}", "{{ max }}", "{{ floor }}",
              "{{ 9223372036854775808 }}", "{{ 1e400 }}", "{{ int64 \"0b101\" }}", "{{ biggest 1 2 }}"]:
        add((t, d))
    # --- regular expressions
    for t in ["{{ regexMatch \"^db\\\\.\" .host }}", "{{ regexMatch \"[0-9]+\" .user }}",
              "{{ regexFind \"[0-9]+\" \"ab123cd45\" }}", "{{ regexFindAll \"[0-9]+\" \"a1b22c333\" -1 }}",
              "{{ regexFindAll \"[0-9]+\" \"a1b22c333\" 2 }}", "{{ regexFindAll \"x\" \"abc\" -1 }}",
              "{{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"${1}W\" }}",
              "{{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"$1W\" }}",
              "{{ regexReplaceAll \"[aeiou]\" .words \"_\" }}",
              "{{ regexReplaceAllLiteral \"a(x*)b\" \"-axb-\" \"$1\" }}",
              "{{ regexSplit \",\" .csv -1 }}", "{{ regexSplit \",\" .csv 2 }}", "{{ regexSplit \"z*\" \"abc\" -1 }}",
              "{{ regexQuoteMeta \"a.b*c\" }}",
              "{{ regexReplaceAll \"(\\\\w+)@(\\\\w+)\" \"me@host\" \"$2 at $1$$\" }}",
              "{{ regexFind \"^$\" \"\" }}", "{{ regexReplaceAll \"\" \"abc\" \"-\" }}"]:
        add((t, d))
    # --- Bitnami-style templates
    for t in ["{\n  \"user\": {{ .user | quote }},\n  \"password\": {{ .password | toJson }}\n}\n",
              "{{- range $k, $v := . }}\n{{ $k }}={{ $v | quote }}\n{{- end }}\n",
              "[client]\nuser={{ .user }}\npassword={{ .password }}\n",
              "{{ printf \"%s:%s\" .user .password | b64enc }}", "{{ .user }}:{{ .password | sha256sum | trunc 12 }}",
              "host: {{ .host }}\nport: {{ .port | atoi | add 1 }}\n{{ with .missing }}x: {{ . }}{{ end }}",
              "{{ toPrettyJson (dict \"auths\" (dict .host (dict \"auth\" (printf \"%s:%s\" .user .password |"
              " b64enc)))) }}",
              "config:\n{{ .multi | indent 2 }}", "{{ (fromJson .json).b | toJson }}",
              "{{ range $i, $l := splitList \"\\n\" .multi }}{{ if $l }}{{ $i }}: {{ $l }}\n{{ end }}{{ end }}"]:
        add((t, d))
    # --- whitespace, line endings, comments
    for t in ["a \r\n {{- .user -}} \r\n b", "a\t{{-\t.user\t-}}\tb", "{{- /* c */ -}}\n\n{{ .user }}",
              "x\n{{- /* multi\nline */ -}}\ny", "{{/* a */}}{{/* b */ -}}  z", "{{ .user }}\r\n", "{{-\n.user\n-}}",
              "{{ .user -}}{{- .host }}", "{{ \"-}}\" }}", "{{ \"{{\" }}", "}}{{ .user }}{{", "{{{ .user }}}",
              "{{ define \"a\" }}{{ block \"b\" . }}B{{ .user }}{{ end }}{{ end }}"
              "{{ template \"a\" . }}{{ template \"b\" . }}",
              "{{ printf \"%v\" (list (dict \"a\" (list 1 nil)) \"s\") }}",
              "{{ printf \"%6.2v|%-4v|\" 3.14159 \"ab\" }}",
              "{{ printf \"%v %v %v\" 1e21 1e20 123456789.0 }}", "{{ printf \"%.0f %.1e %g\" 2.5 0.0 -0.0 }}",
              # widths and precisions past Go's 1e6 limit: %!(NOVERB), the rest of the format consumed
              "{{ printf \"%999999999d|%s\" 1 \"a\" }}", "{{ printf \"%.999999999f\" 1.5 }}",
              "{{ printf \"%1000000d\" 1 | len }}"]:
        add((t, d))
    # --- JSON data (numbers are float64)
    for t in ["{{ .s }} {{ .n }} {{ .f }} {{ .b }} {{ .z }} {{ .l }} {{ .m }}", "{{ printf \"%T %T\" .n .l }}",
              "{{ .m.k }} {{ .m.n.deep }} {{ .m.missing }}", "{{ range .l }}<{{ . }}>{{ end }}",
              "{{ range $k, $v := .m }}{{ $k }}{{ end }}", "{{ len .l }} {{ len .m }} {{ len .e }}",
              "{{ if .e }}a{{ else }}b{{ end }}{{ if .em }}a{{ else }}b{{ end }}", "{{ .z.x }}",
              "{{ add .n 1 }} {{ mul .f 2 }}", "{{ repeat .n \"x\" }}", "{{ toJson . }}", "{{ eq .n 3.0 }}",
              "{{ eq .n 3 }}", "{{ default 5 .zero }}", "{{ hasKey .m \"k\" }}", "{{ .m | keys | sortAlpha }}",
              "{{ index .l 1 }}", "{{ first .l }}", "{{ get .m \"k\" }}", "{{ .s.x }}", "{{ .l.x }}",
              "{{ $x := .m }}{{ $_ := set $x \"new\" 1 }}{{ toJson $x }}", "{{ empty .zero }}"]:
        add((t, JSON_DATA))
    return c


CASES = _cases()

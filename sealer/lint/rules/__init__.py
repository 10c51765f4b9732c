"""One module per rule family; `document.check` dispatches a parsed YAML/JSON document to them."""

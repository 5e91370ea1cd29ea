package shapes

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

// TestPageMatchesCode: every Go block of docs/update-shapes.md is an excerpt
// of this package's files, so that the page shows code that compiles and is
// tested.
func TestPageMatchesCode(t *testing.T) {
	page, err := os.ReadFile(filepath.Join("..", "..", "docs", "update-shapes.md"))
	if err != nil {
		t.Fatalf("reading the page: %v", err)
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var code strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		code.Write(b)
	}
	blocks := goBlock.FindAllStringSubmatch(string(page), -1)
	if len(blocks) == 0 {
		t.Fatal("the page has no Go block")
	}
	for _, b := range blocks {
		if !strings.Contains(code.String(), b[1]) {
			t.Errorf("this block of the page is in no file of examples/shapes:\n%s", b[1])
		}
	}
}

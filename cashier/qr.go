package cashier

import (
	"fmt"
	"strconv"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// qrSVG draws content as a QR code in SVG, server-side: a white square with
// the quiet zone and one <path> of the dark modules, one rectangle per run
// of dark modules in a row, so that a code of a few hundred modules stays a
// few kilobytes. Colours are attributes, not styles: the page's CSP allows
// no inline style. Medium error correction (15%) survives a scratched or
// dim phone screen without making the code dense.
func qrSVG(content, label string) (string, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("qr code: %w", err)
	}
	bits := q.Bitmap() // with its quiet zone of 4 modules on every side
	n := len(bits)
	var path strings.Builder
	for y, row := range bits {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] {
				x++
			}
			// M x y h run v 1 h -run z: one rectangle, relative moves.
			path.WriteString("M" + strconv.Itoa(start) + " " + strconv.Itoa(y) +
				"h" + strconv.Itoa(x-start) + "v1h-" + strconv.Itoa(x-start) + "z")
		}
	}
	size := strconv.Itoa(n)
	var b strings.Builder
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" class="qr-code" viewBox="0 0 ` + size + " " + size +
		`" shape-rendering="crispEdges" role="img" aria-label="` + svgEscape(label) + `">`)
	b.WriteString(`<rect width="` + size + `" height="` + size + `" fill="#fff"/>`)
	b.WriteString(`<path fill="#000" d="` + path.String() + `"/>`)
	b.WriteString(`</svg>`)
	return b.String(), nil
}

// svgEscape escapes text for an attribute value.
func svgEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")
	return r.Replace(s)
}

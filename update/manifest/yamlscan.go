package manifest

import "fmt"

// scanYAML checks a YAML document against the limits that must hold before
// the YAML decoder sees it: the decoder builds the whole document, with
// every alias expanded, before anything can be counted, and a document of
// a few kilobytes can expand to gigabytes. The scan reads the document
// once, keeping only the open collections and the anchors, and refuses:
//
//   - lists and mappings (flow or block) nested deeper than MaxDepth;
//   - more than MaxAliases aliases;
//   - a document larger than MaxBytes once each alias is replaced by the
//     text of its anchored node (and so on, for aliases in that node).
//
// It is not a YAML parser: it only tells where tokens, collections and
// anchored nodes start and end. Where it cannot tell, it errs towards more
// depth, more aliases and larger anchors, so that what it lets through
// costs the decoder no more than the limits say. Syntax errors are left to
// the decoder.
func scanYAML(data []byte, l Limits) error {
	s := &yscan{data: data, lim: l, line: 1, anchors: map[string]int64{}, scalarAbove: noScalar}
	for s.p < len(s.data) {
		if err := s.lineStart(); err != nil {
			return err
		}
		if err := s.scanLine(); err != nil {
			return err
		}
	}
	return nil
}

const noScalar = -2

type yblock struct {
	col int
	seq bool
}

// yanchor is an anchored node that has not ended yet.
type yanchor struct {
	name  string
	start int64 // expanded size of the document where the node starts
	flow  int   // the flow level of the node; 0 in block context
	// In block context: the node ends at a line indented at most col (less
	// than col, or at col without a "- ", when the node is a mapping's
	// value).
	col int
	seq bool
}

type yscan struct {
	data []byte
	lim  Limits
	p    int // offset
	line int // line of p, from 1
	bol  int // offset of the start of the line

	flow    int      // flow level: open [ and {
	blocks  []yblock // open block collections, by column
	open    []yanchor
	anchors map[string]int64 // expanded size of each anchored node that has ended
	extra   int64            // what aliases add to the size
	aliases int

	// Block context, on the current line: the column of the first token of
	// the current entry, whether the next token starts a new one (after
	// "- " or "? "), and the column, and kind, of the collection a value
	// starting here belongs to.
	entryCol  int
	newEntry  bool
	parentCol int
	parentSeq bool
	afterQ    int // offset just after the last quoted scalar
	// When not noScalar, a block scalar is open: its lines are the blank
	// ones and those indented more than scalarAbove.
	scalarAbove int
}

func (s *yscan) expanded() int64 { return int64(s.p) + s.extra }

func (s *yscan) over(limit string, max int, what string, args ...any) error {
	return &LimitError{Limit: limit, Max: max, Line: s.line, What: fmt.Sprintf(what, args...)}
}

func (s *yscan) depth() error {
	if d := len(s.blocks) + s.flow; d > s.lim.MaxDepth {
		return s.over("MaxDepth", s.lim.MaxDepth, "lists and mappings nested more than %d deep", s.lim.MaxDepth)
	}
	return nil
}

// indent returns the number of spaces at the start of the line at p, and
// whether the line is blank or a comment.
func (s *yscan) indent() (int, bool) {
	i := s.p
	for i < len(s.data) && s.data[i] == ' ' {
		i++
	}
	blank := i == len(s.data) || s.data[i] == '\n' || s.data[i] == '\r' || s.data[i] == '#'
	return i - s.p, blank
}

func (s *yscan) skipLine() {
	for s.p < len(s.data) && s.data[s.p] != '\n' {
		s.p++
	}
	if s.p < len(s.data) {
		s.p++
		s.line++
		s.bol = s.p
	}
}

func (s *yscan) closeAnchor() {
	a := s.open[len(s.open)-1]
	s.open = s.open[:len(s.open)-1]
	s.anchors[a.name] = s.expanded() - a.start
}

// lineStart handles the indentation of a new line: it skips the lines of
// an open block scalar, and in block context ends the collections and
// anchored nodes the indentation closes.
func (s *yscan) lineStart() error {
	if s.scalarAbove != noScalar {
		for s.p < len(s.data) {
			ind, _ := s.indent()
			i := s.p + ind
			empty := i == len(s.data) || s.data[i] == '\n' || s.data[i] == '\r'
			if !empty && ind <= s.scalarAbove {
				break
			}
			s.skipLine()
		}
		s.scalarAbove = noScalar
		if s.p >= len(s.data) {
			return nil
		}
	}
	ind, blank := s.indent()
	if blank {
		return nil // scanLine skips it
	}
	rest := s.data[s.p+ind:]
	dash := len(rest) > 0 && rest[0] == '-' && (len(rest) == 1 || isYAMLSpace(rest[1]))
	if s.flow == 0 {
		if ind == 0 && len(rest) >= 3 && (string(rest[:3]) == "---" || string(rest[:3]) == "...") && (len(rest) == 3 || isYAMLSpace(rest[3])) {
			for len(s.open) > 0 {
				s.closeAnchor()
			}
			s.blocks = s.blocks[:0]
			s.p += 3
			s.entryCol, s.newEntry, s.parentCol, s.parentSeq = 3, true, -1, false
			return nil
		}
		if ind == 0 && rest[0] == '%' {
			s.skipLine()
			return nil
		}
		for len(s.open) > 0 {
			a := s.open[len(s.open)-1]
			if a.flow == 0 && (ind > a.col || ind == a.col && !a.seq && dash) {
				break
			}
			s.closeAnchor() // or a flow node left open by a syntax error
		}
		for len(s.blocks) > 0 && s.blocks[len(s.blocks)-1].col > ind {
			s.blocks = s.blocks[:len(s.blocks)-1]
		}
		if n := len(s.blocks); n > 0 && s.blocks[n-1].seq && s.blocks[n-1].col == ind && !dash {
			s.blocks = s.blocks[:n-1]
		}
	}
	s.entryCol, s.newEntry, s.parentCol, s.parentSeq = ind, false, -1, false
	if n := len(s.blocks); n > 0 {
		s.parentCol, s.parentSeq = s.blocks[n-1].col, s.blocks[n-1].seq
	}
	s.p += ind
	return nil
}

func isYAMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isFlowIndicator(c byte) bool { return c == ',' || c == '[' || c == ']' || c == '{' || c == '}' }

// indicator reports whether the character at p is followed by what makes
// it an indicator ("- ", "? ", ": ") rather than the start of a scalar.
func (s *yscan) indicator() bool {
	if s.p+1 >= len(s.data) || isYAMLSpace(s.data[s.p+1]) {
		return true
	}
	c := s.data[s.p]
	return c == ':' && (s.flow > 0 && isFlowIndicator(s.data[s.p+1]) || s.p == s.afterQ)
}

// token notes that a token starts at col.
func (s *yscan) token(col int) {
	if s.newEntry {
		s.entryCol, s.newEntry = col, false
	}
}

func (s *yscan) pushBlock(col int, seq bool) error {
	if n := len(s.blocks); n > 0 {
		top := s.blocks[n-1]
		if top.col > col || top.col == col && (top.seq || !seq) {
			return nil
		}
	}
	s.blocks = append(s.blocks, yblock{col, seq})
	return s.depth()
}

// scanLine reads the tokens of a line, through its newline.
func (s *yscan) scanLine() error {
	for s.p < len(s.data) {
		c := s.data[s.p]
		col := s.p - s.bol
		switch {
		case c == '\n':
			s.p++
			s.line++
			s.bol = s.p
			return nil
		case c == ' ' || c == '\t' || c == '\r':
			s.p++
		case c == '#' && (s.p == s.bol || isYAMLSpace(s.data[s.p-1])):
			for s.p < len(s.data) && s.data[s.p] != '\n' {
				s.p++
			}
		case c == '[' || c == '{':
			s.token(col)
			s.flow++
			s.p++
			if err := s.depth(); err != nil {
				return err
			}
		case c == ']' || c == '}':
			s.closeFlow()
			s.flow = max(s.flow-1, 0)
			s.p++
		case c == ',' && s.flow > 0:
			s.closeFlow()
			s.p++
		case c == '&':
			s.token(col)
			start := s.expanded()
			name := s.name()
			s.open = append(s.open, yanchor{name: string(name), start: start, flow: s.flow, col: s.parentCol, seq: s.parentSeq})
		case c == '*':
			s.token(col)
			name := s.name()
			if s.aliases++; s.aliases > s.lim.MaxAliases {
				return s.over("MaxAliases", s.lim.MaxAliases, "more than %d aliases", s.lim.MaxAliases)
			}
			size, ok := s.anchors[string(name)]
			if !ok { // an anchored node that contains the alias: at most what it holds so far
				for i := len(s.open) - 1; i >= 0; i-- {
					if s.open[i].name == string(name) {
						size = s.expanded() - s.open[i].start
						break
					}
				}
			}
			s.extra += size
			if s.expanded() > int64(s.lim.MaxBytes) {
				return s.over("MaxBytes", s.lim.MaxBytes, "the aliases expand the package to more than %d bytes", s.lim.MaxBytes)
			}
		case c == '!':
			s.token(col)
			for s.p < len(s.data) && !isYAMLSpace(s.data[s.p]) && !(s.flow > 0 && isFlowIndicator(s.data[s.p])) {
				s.p++
			}
		case c == '\'' || c == '"':
			s.token(col)
			s.quoted(c)
		case (c == '|' || c == '>') && s.flow == 0:
			s.scalarAbove = s.parentCol
			for s.p < len(s.data) && s.data[s.p] != '\n' {
				s.p++
			}
		case (c == '-' || c == '?' || c == ':') && s.indicator():
			s.p++
			if s.flow > 0 {
				continue
			}
			switch c {
			case '-':
				if err := s.pushBlock(col, true); err != nil {
					return err
				}
				s.parentCol, s.parentSeq, s.newEntry = col, true, true
			case '?':
				s.parentCol, s.parentSeq, s.newEntry = col, true, true
			case ':':
				if err := s.pushBlock(s.entryCol, false); err != nil {
					return err
				}
				s.parentCol, s.parentSeq = s.entryCol, false
			}
		default:
			s.token(col)
			s.plain()
		}
	}
	return nil
}

// closeFlow ends the anchored nodes of the current flow collection's
// entry, at a "," or the collection's end.
func (s *yscan) closeFlow() {
	for len(s.open) > 0 && s.open[len(s.open)-1].flow >= s.flow && s.flow > 0 {
		s.closeAnchor()
	}
}

// name reads the name of an anchor or alias, after its & or *.
func (s *yscan) name() []byte {
	s.p++
	start := s.p
	for s.p < len(s.data) && !isYAMLSpace(s.data[s.p]) && !isFlowIndicator(s.data[s.p]) {
		s.p++
	}
	return s.data[start:s.p]
}

// quoted skips a quoted scalar, which may span lines.
func (s *yscan) quoted(q byte) {
	for s.p++; s.p < len(s.data); s.p++ {
		switch c := s.data[s.p]; {
		case c == '\n':
			s.line++
			s.bol = s.p + 1
		case q == '"' && c == '\\' && s.p+1 < len(s.data):
			s.p++
			if s.data[s.p] == '\n' {
				s.line++
				s.bol = s.p + 1
			}
		case c == q && q == '\'' && s.p+1 < len(s.data) && s.data[s.p+1] == '\'':
			s.p++
		case c == q:
			s.p++
			s.afterQ = s.p
			return
		}
	}
}

// plain skips a plain scalar to the end of its line, or to what ends it:
// ": ", " #", and in flow context a flow indicator.
func (s *yscan) plain() {
	for s.p < len(s.data) {
		c := s.data[s.p]
		switch {
		case c == '\n':
			return
		case c == ':' && s.indicator():
			return
		case s.flow > 0 && isFlowIndicator(c):
			return
		case c == ' ' || c == '\t' || c == '\r':
			i := s.p
			for i < len(s.data) && (s.data[i] == ' ' || s.data[i] == '\t' || s.data[i] == '\r') {
				i++
			}
			if i == len(s.data) || s.data[i] == '#' || s.data[i] == '\n' {
				s.p = i
				return
			}
			s.p = i
			continue
		}
		s.p++
	}
}

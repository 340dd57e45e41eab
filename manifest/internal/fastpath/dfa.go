package fastpath

import (
	"math/bits"
	"regexp"
	"regexp/syntax"
)

// A lazily built DFA for `pattern`, used by the fast path on ASCII strings.
//
// Go's regexp runs a backtracker or an NFA for every match, which made
// `pattern` half the cost of checking a record. Patterns in manifests are
// small and the strings they check are short ASCII (keys, URIs, dates), so
// this matcher builds DFA states on demand from the very program Go's regexp
// runs (the same parse, simplification and compilation, and Inst.MatchRune
// for every character test), which makes it agree with regexp.Match by
// construction. It gives up, and the caller uses regexp, when the input has
// a non-ASCII byte, the program is large, it uses an empty-width assertion
// other than ^ and $ of the whole text, or too many states are needed.
// FuzzDFA checks it against regexp.Match.

const (
	dfaMaxInsts  = 256  // program size limit: state sets are [4]uint64
	dfaMaxStates = 2048 // per matcher; then it falls back
)

type instSet [4]uint64

func (s *instSet) add(i uint32)      { s[i>>6] |= 1 << (i & 63) }
func (s *instSet) has(i uint32) bool { return s[i>>6]&(1<<(i&63)) != 0 }

// each calls f for every instruction in s.
func (s instSet) each(f func(i uint32)) {
	for w := 0; w < 4; w++ {
		for b := s[w]; b != 0; b &= b - 1 {
			f(uint32(w*64 + bits.TrailingZeros64(b)))
		}
	}
}

// asciiProg is the compiled program of one pattern; it is immutable and
// shared by all workers.
type asciiProg struct {
	re   *regexp.Regexp
	prog *syntax.Prog
	ok   bool // the DFA can be used for this pattern
}

func newASCIIProg(re *regexp.Regexp) *asciiProg {
	p := &asciiProg{re: re}
	parsed, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return p
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil || len(prog.Inst) > dfaMaxInsts {
		return p
	}
	for _, in := range prog.Inst {
		if in.Op == syntax.InstEmptyWidth && syntax.EmptyOp(in.Arg)&^(syntax.EmptyBeginText|syntax.EmptyEndText) != 0 {
			return p
		}
	}
	p.prog, p.ok = prog, true
	return p
}

// dfa is one worker's lazily built automaton for an asciiProg.
type dfa struct {
	p      *asciiProg
	index  map[instSet]int32
	sets   []instSet
	match  []bool    // the state contains InstMatch
	trans  [][]int32 // [state][byte] -> state+1; 0 means not built yet
	start  int32     // state at position 0
	inner  instSet   // closure of the start at positions > 0
	failed bool      // too many states: always fall back
}

func newDFA(p *asciiProg) *dfa {
	d := &dfa{p: p, index: map[instSet]int32{}}
	if !p.ok {
		return d
	}
	var s0 instSet
	d.closure(&s0, uint32(p.prog.Start), true)
	d.closure(&d.inner, uint32(p.prog.Start), false)
	d.start = d.state(s0)
	return d
}

// closure adds pc and what it reaches without consuming input, following
// empty-width assertions that hold under flags (^ at the start; $ only
// matters at the end, see accepts).
func (d *dfa) closure(s *instSet, pc uint32, atBegin bool) {
	var flags syntax.EmptyOp
	if atBegin {
		flags = syntax.EmptyBeginText
	}
	d.follow(s, pc, flags)
}

func (d *dfa) follow(s *instSet, pc uint32, flags syntax.EmptyOp) {
	if s.has(pc) {
		return
	}
	s.add(pc)
	in := &d.p.prog.Inst[pc]
	switch in.Op {
	case syntax.InstAlt, syntax.InstAltMatch:
		d.follow(s, in.Out, flags)
		d.follow(s, in.Arg, flags)
	case syntax.InstCapture, syntax.InstNop:
		d.follow(s, in.Out, flags)
	case syntax.InstEmptyWidth:
		if syntax.EmptyOp(in.Arg)&^flags == 0 {
			d.follow(s, in.Out, flags)
		}
	}
}

// state returns the index of the DFA state for s, making it if needed.
func (d *dfa) state(s instSet) int32 {
	if i, ok := d.index[s]; ok {
		return i
	}
	i := int32(len(d.sets))
	d.index[s] = i
	d.sets = append(d.sets, s)
	m := false
	s.each(func(pc uint32) {
		if d.p.prog.Inst[pc].Op == syntax.InstMatch {
			m = true
		}
	})
	d.match = append(d.match, m)
	d.trans = append(d.trans, make([]int32, 128))
	return i
}

// step computes the transition of state i on the ASCII byte c.
func (d *dfa) step(i int32, c byte) int32 {
	if t := d.trans[i][c]; t != 0 {
		return t - 1
	}
	next := d.inner // unanchored search: a match may start anywhere
	d.sets[i].each(func(pc uint32) {
		in := &d.p.prog.Inst[pc]
		var ok bool
		switch in.Op {
		case syntax.InstRune, syntax.InstRune1:
			ok = in.MatchRune(rune(c))
		case syntax.InstRuneAny:
			ok = true
		case syntax.InstRuneAnyNotNL:
			ok = c != '\n'
		}
		if ok {
			d.closure(&next, in.Out, false)
		}
	})
	if len(d.sets) >= dfaMaxStates {
		d.failed = true
		return -1
	}
	t := d.state(next)
	d.trans[i][c] = t + 1
	return t
}

// accepts reports whether state i holds a match at the end of the text,
// where $ holds (and ^ too when the text is empty).
func (d *dfa) accepts(i int32, empty bool) bool {
	if d.match[i] {
		return true
	}
	flags := syntax.EmptyEndText
	if empty {
		flags |= syntax.EmptyBeginText
	}
	var end instSet
	d.sets[i].each(func(pc uint32) {
		in := &d.p.prog.Inst[pc]
		if in.Op == syntax.InstEmptyWidth && syntax.EmptyOp(in.Arg)&^flags == 0 {
			d.follow(&end, in.Out, flags)
		}
	})
	found := false
	end.each(func(pc uint32) {
		if d.p.prog.Inst[pc].Op == syntax.InstMatch {
			found = true
		}
	})
	return found
}

// matchBytes reports whether the pattern matches somewhere in s, exactly as
// regexp.Match does.
func (d *dfa) matchBytes(s []byte) bool {
	if !d.p.ok || d.failed {
		return d.p.re.Match(s)
	}
	st := d.start
	for _, c := range s {
		if d.match[st] {
			return true
		}
		if c >= 0x80 {
			return d.p.re.Match(s)
		}
		if st = d.step(st, c); st < 0 {
			return d.p.re.Match(s)
		}
	}
	return d.accepts(st, len(s) == 0)
}

package manifest

// idSet remembers, for each id hash seen, the line that first used it. It is
// an open-addressing table of 128-bit hashes and int32 lines: about 20 bytes
// per slot and at most 75% of the slots used, so 27 to 54 bytes per id
// against about 80 in a Go map.
type idSet struct {
	keys  [][2]uint64 // {0, 0} marks an empty slot
	lines []int32
	n     int
}

// firstLine returns the line that first used key, or records line for it and
// returns 0.
func (s *idSet) firstLine(key [2]uint64, line int32) int32 {
	if key == ([2]uint64{}) {
		key[1] = 1 // keep the empty marker free; a collision is as unlikely as any other
	}
	if 4*(s.n+1) > 3*len(s.keys) {
		s.grow()
	}
	mask := uint64(len(s.keys) - 1)
	for i := key[0] & mask; ; i = (i + 1) & mask {
		switch s.keys[i] {
		case key:
			return s.lines[i]
		case [2]uint64{}:
			s.keys[i], s.lines[i] = key, line
			s.n++
			return 0
		}
	}
}

func (s *idSet) grow() {
	size := 1024
	if len(s.keys) > 0 {
		size = 2 * len(s.keys)
	}
	old, oldLines := s.keys, s.lines
	s.keys, s.lines, s.n = make([][2]uint64, size), make([]int32, size), 0
	for i, k := range old {
		if k != ([2]uint64{}) {
			s.firstLine(k, oldLines[i])
		}
	}
}

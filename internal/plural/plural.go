// Package plural writes counted English nouns for messages: "1 object",
// "3 objects". Every package that words a count uses it, so a message reads
// the same whichever command prints it.
package plural

import "strconv"

// Count returns n and word, with an "s" added unless n is 1: "1 object",
// "0 objects", "3 objects".
func Count(n int, word string) string {
	return strconv.Itoa(n) + " " + Word(n, word)
}

// Word returns word with an "s" added unless n is 1, for a sentence that
// puts the number elsewhere: "the 2 deleted assets".
func Word(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

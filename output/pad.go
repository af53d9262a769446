package output

import "strconv"

// The column helpers of every table: printf's %-*s and %*s on bytes, with
// no allocation. Nothing is cut here; a caller that must cut a cell (as
// netstat's buffers do) cuts before padding.

// appendLeft appends s left-aligned in a field of at least width columns
// (%-*s).
func appendLeft[T string | []byte](b []byte, s T, width int) []byte {
	b = append(b, s...)
	return appendSpaces(b, width-len(s))
}

// appendRight appends s right-aligned in a field of at least width columns
// (%*s).
func appendRight[T string | []byte](b []byte, s T, width int) []byte {
	b = appendSpaces(b, width-len(s))
	return append(b, s...)
}

// appendSpaces appends n spaces (none when n <= 0).
func appendSpaces(b []byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, ' ')
	}
	return b
}

// appendLeftInt appends v left-aligned in a field of at least width (%-*d).
func appendLeftInt(b []byte, v int64, width int) []byte {
	var tmp [20]byte
	return appendLeft(b, strconv.AppendInt(tmp[:0], v, 10), width)
}

// appendRightInt appends v right-aligned in a field of at least width (%*d).
func appendRightInt(b []byte, v int64, width int) []byte {
	var tmp [20]byte
	return appendRight(b, strconv.AppendInt(tmp[:0], v, 10), width)
}

// appendLeftUint appends v left-aligned in a field of at least width.
func appendLeftUint(b []byte, v uint64, width int) []byte {
	var tmp [20]byte
	return appendLeft(b, strconv.AppendUint(tmp[:0], v, 10), width)
}

// appendRightUint appends v right-aligned in a field of at least width.
func appendRightUint(b []byte, v uint64, width int) []byte {
	var tmp [20]byte
	return appendRight(b, strconv.AppendUint(tmp[:0], v, 10), width)
}

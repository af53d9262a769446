package cli

// groupsBlock prints netstat -g's multicast group table inside the socket
// listing.
func (r *socketRun) groupsBlock() int {
	r.out.Flush()
	return notYet(r.env, "multicast group listing (-g)")
}

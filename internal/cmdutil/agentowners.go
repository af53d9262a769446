package cmdutil

import (
	"net/netip"
	"os"

	"github.com/bpfnetstat/bpfnetstat/agent"
	"github.com/bpfnetstat/bpfnetstat/merged"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// AgentOwners is the agent's memory for the refreshing views: the owners
// of TIME_WAIT and other inode-less sockets that the agent running on the
// host saw close, however long before the view started. Root only (the
// agent's socket is root's); nil otherwise. Without an agent every
// question returns nothing at once and the views behave as before.
// BPFNETSTAT_AGENT_SOCKET names another socket than the agent's default
// (an agent started with --socket).
func AgentOwners(env Env) merged.RemoteOwners {
	if env.Geteuid() != 0 {
		return nil
	}
	path := env.Getenv("BPFNETSTAT_AGENT_SOCKET")
	if path == "" {
		path = agent.DefaultSocket
	}
	if _, err := os.Stat(path); err != nil {
		return nil // no agent: nothing to ask, no cost per listing
	}
	netns := OwnNetNS()
	return func(tuples [][2]netip.AddrPort) map[[2]netip.AddrPort]snapshot.Owner {
		out := map[[2]netip.AddrPort]snapshot.Owner{}
		for len(tuples) > 0 {
			batch := tuples[:min(len(tuples), agent.MaxQueries)]
			tuples = tuples[len(batch):]
			ans, err := agent.LookupTuples(path, batch)
			if err != nil {
				return out
			}
			for t, a := range ans {
				// The agent watches every namespace: the same 4-tuple
				// may live in another one.
				if a.PID == 0 || netns != 0 && a.NetNS != 0 && a.NetNS != netns {
					continue
				}
				out[t] = snapshot.Owner{PID: int(a.PID), Name: a.Comm, Source: "agent"}
			}
		}
		return out
	}
}

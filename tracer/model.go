package tracer

import "github.com/bpfnetstat/bpfnetstat/conn"

// The owner sources of the connection model are those of enum owner_source
// in bpf/tracer.h: an array of length zero only when both agree, so a
// regenerated object that renumbers them fails to compile.
var (
	_ [conn.OwnerNone - conn.OwnerSource(tracerOwnerSourceOWNER_NONE)]struct{}
	_ [conn.OwnerSource(tracerOwnerSourceOWNER_NONE) - conn.OwnerNone]struct{}
	_ [conn.OwnerConnect - conn.OwnerSource(tracerOwnerSourceOWNER_CONNECT)]struct{}
	_ [conn.OwnerSource(tracerOwnerSourceOWNER_CONNECT) - conn.OwnerConnect]struct{}
	_ [conn.OwnerAccept - conn.OwnerSource(tracerOwnerSourceOWNER_ACCEPT)]struct{}
	_ [conn.OwnerSource(tracerOwnerSourceOWNER_ACCEPT) - conn.OwnerAccept]struct{}
	_ [conn.OwnerListener - conn.OwnerSource(tracerOwnerSourceOWNER_LISTENER)]struct{}
	_ [conn.OwnerSource(tracerOwnerSourceOWNER_LISTENER) - conn.OwnerListener]struct{}
	_ [conn.OwnerClose - conn.OwnerSource(tracerOwnerSourceOWNER_CLOSE)]struct{}
	_ [conn.OwnerSource(tracerOwnerSourceOWNER_CLOSE) - conn.OwnerClose]struct{}
	_ [conn.OwnerSnapshot - conn.OwnerSource(tracerOwnerSourceOWNER_SNAPSHOT)]struct{}
	_ [conn.OwnerSource(tracerOwnerSourceOWNER_SNAPSHOT) - conn.OwnerSnapshot]struct{}
	_ [conn.OwnerListen - conn.OwnerSource(tracerOwnerSourceOWNER_LISTEN)]struct{}
	_ [conn.OwnerSource(tracerOwnerSourceOWNER_LISTEN) - conn.OwnerListen]struct{}
)

//go:build !bpfnetstat_noaccept

package trace

// noAcceptBuild is true only in the build scripts/bench-churn.sh makes with
// -tags bpfnetstat_noaccept (noaccept_on.go).
const noAcceptBuild = false

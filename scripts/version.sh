#!/bin/sh
# version.sh: the version a build is stamped with (make build, install, deb):
# the nearest vX.Y.Z tag without its v (plus git describe's -N-gHASH past
# it), else the source's default version with +gHASH, else the default alone
# (a source tree without git, as go install from the module proxy sees it).
set -eu
cd "$(dirname "$0")/.."
base=$(sed -n 's/^var Version = "\(.*\)"$/\1/p' internal/cmdutil/env.go)
if v=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
	echo "${v#v}"
elif h=$(git rev-parse --short=12 HEAD 2>/dev/null); then
	if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
		h="$h.dirty"
	fi
	echo "$base+g$h"
else
	echo "$base"
fi

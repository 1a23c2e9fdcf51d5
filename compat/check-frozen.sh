#!/bin/sh
# Checks that every frozen crate's src/ is still, byte for byte, what commit 640bf08 shipped
# (compat/README.md). Needs the git history (not a shallow clone without 640bf08). Exit 0 when
# all match; otherwise `git diff` shows what changed and the exit status is 1.
set -eu
SHIPPED=640bf08
root=$(git rev-parse --show-toplevel)
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# frozen copy : path at $SHIPPED
pairs="renkei-sdk-0.1.0:sdk
template-plugin-0.1.0:examples/template-plugin
sbps-plugin-0.1.0:plugins/sbps
fregi-plugin-0.1.0:plugins/fregi"
git archive "$SHIPPED" sdk/src examples/template-plugin/src plugins/sbps/src plugins/fregi/src \
    | tar -x -C "$tmp"
status=0
for pair in $pairs; do
    frozen=${pair%%:*}
    shipped=${pair#*:}
    if git --no-pager diff --no-index --exit-code "$tmp/$shipped/src" "compat/$frozen/src"; then
        echo "compat/$frozen/src = $SHIPPED:$shipped/src"
    else
        echo "compat/$frozen/src differs from $SHIPPED:$shipped/src" >&2
        status=1
    fi
done
exit $status

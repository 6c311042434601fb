#!/usr/bin/env bash
# Vendors uPlot, the page's charting library, from npm into plugin/report/assets/uplot: its
# minified script and style and its licence, with the version and the files' SHA-256 in
# VERSION. Usage: scripts/update-uplot.sh [VERSION] (default: the latest on npm). Review the
# diff, run make test, and commit the files together.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-$(npm view uplot version)}
dest=plugin/report/assets/uplot
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@$version" >/dev/null && tar xzf "uplot-$version.tgz")
cp "$work/package/dist/uPlot.iife.min.js" "$work/package/dist/uPlot.min.css" "$work/package/LICENSE" "$dest/"
{
	echo "uPlot $version (MIT), from npm: https://www.npmjs.com/package/uplot/v/$version"
	(cd "$dest" && sha256sum uPlot.iife.min.js uPlot.min.css LICENSE)
} >"$dest/VERSION"
cat "$dest/VERSION"

#!/usr/bin/env bash
# Refreshes the files of the booking pages that come from npm, from the
# versions pinned in package-lock.json:
#   - internal/web/assets/dsfr/: the DSFR (@gouvfr/dsfr) stylesheet, only the
#     fonts and icons it references, a subset of the icon utility classes
#     (ICONS below) and the favicons;
#   - internal/web/testdata/axe.min.js: axe-core, injected by the
#     accessibility tests.
# Those files are committed: the Go build (go:embed) never needs npm.
#
# Usage: ./scripts/update-dsfr.sh
# To move to another DSFR version first:
#   npm install --package-lock-only @gouvfr/dsfr@1.x.y && ./scripts/update-dsfr.sh
# npm runs in a temporary directory (npm ci, exact lock), so no node_modules
# is left in the work tree.
set -euo pipefail
cd "$(dirname "$0")/.."

# Icon classes (fr-icon-NAME) the templates use; keep in sync with
# internal/web/templates (a test checks every fr-icon- class used is here).
ICONS="calendar-line map-pin-2-line time-line arrow-left-line arrow-right-line user-line phone-line mail-line account-circle-line checkbox-circle-line"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp package.json package-lock.json .npmrc "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

src="$work/node_modules/@gouvfr/dsfr/dist"
dst=internal/web/assets/dsfr
rm -rf "$dst"
mkdir -p "$dst/favicon"
cp "$src/dsfr.min.css" "$dst/"
cp "$work/node_modules/@gouvfr/dsfr/LICENSE.md" "$dst/LICENSE.md"

# Every file dsfr.min.css points to (fonts, component icons), relative paths kept.
grep -o 'url([^)]*)' "$src/dsfr.min.css" | sed -e 's/^url(//' -e 's/)$//' -e 's/"//g' -e "s/'//g" |
	grep -v '^data:' | sort -u | while read -r f; do
	mkdir -p "$dst/$(dirname "$f")"
	cp "$src/$f" "$dst/$f"
done

# The icon utility classes we use, their paths rewritten from
# utility/icons/ to the root of $dst.
: >"$dst/icons.min.css"
for icon in $ICONS; do
	rule=$(grep -o "\.fr-icon-$icon:after,\.fr-icon-$icon:before{-webkit-mask-image[^}]*}" "$src/utility/icons/icons.min.css" | head -1)
	if [ -z "$rule" ]; then
		echo "update-dsfr: no icon fr-icon-$icon in this DSFR version" >&2
		exit 1
	fi
	printf '%s\n' "${rule//..\/..\/icons\//icons/}" >>"$dst/icons.min.css"
	f=$(printf '%s' "$rule" | sed -e 's/.*mask-image:url(\.\.\/\.\.\/\([^)]*\)).*/\1/')
	mkdir -p "$dst/$(dirname "$f")"
	cp "$src/$f" "$dst/$f"
done

cp "$src/favicon/favicon.svg" "$src/favicon/favicon.ico" "$src/favicon/apple-touch-icon.png" "$dst/favicon/"

mkdir -p internal/web/testdata
cp "$work/node_modules/axe-core/axe.min.js" internal/web/testdata/axe.min.js
cp "$work/node_modules/axe-core/LICENSE" internal/web/testdata/axe-core.LICENSE

dsfr=$(sed -n 's/.*"version": "\(.*\)".*/\1/p' "$work/node_modules/@gouvfr/dsfr/package.json" | head -1)
axe=$(sed -n 's/.*"version": "\(.*\)".*/\1/p' "$work/node_modules/axe-core/package.json" | head -1)
printf '%s\n' "$dsfr" >"$dst/VERSION"
echo "update-dsfr: DSFR $dsfr ($(du -sh "$dst" | cut -f1)), axe-core $axe"

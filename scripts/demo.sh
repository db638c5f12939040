#!/usr/bin/env bash
# A prescription from start to end against a running rdvsync on the example
# configuration (`make run` in another terminal), printing every request as
# a curl command you can paste, and every answer:
#   1. the next free slot of "Orientation RSA" at the MDS Arras;
#   2. a médiathèque employee books it for an usager (prescription, 201);
#   3. the agents' view of that time: who is still free; each of them is
#      booked by an agent, so no one is left;
#   4. the prescripteur tries the same slot again: 409 slot_unavailable;
#   5. the agent lists the RDVs of that day;
#   6. the agent cancels every RDV of the demo, so the slot is free again
#      and the demo can be run again.
# Needs bash, curl and jq. Dates come from the daemon's answers, never from
# this file, so it works on any day.
#
# Usage: ./scripts/demo.sh [BASE_URL]        (default http://127.0.0.1:8080)
#   RDVSYNC_DEMO_TOKEN: the agent token (default demo-token-camille-martin)
set -euo pipefail

BASE=${1:-http://127.0.0.1:8080}
BASE=${BASE%/}
TOKEN=${RDVSYNC_DEMO_TOKEN:-demo-token-camille-martin}
MOTIF=rsa-orientation
LIEU=mds-arras-centre

for tool in curl jq; do
	command -v "$tool" >/dev/null || { echo "demo: $tool is required (apt-get install $tool)" >&2; exit 1; }
done

OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

# quote prints its argument single-quoted for a shell, each ' written '\''.
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

step() { printf '\n### %s\n\n' "$*"; }

# call METHOD PATH AUTH [BODY [FILTER]] prints the request as a curl command
# and the answer (status line, then the JSON body through jq FILTER, "." by
# default), and leaves the status in $STATUS and the whole body in
# $RESPONSE. AUTH is "agent" or "-".
call() {
	local method=$1 path=$2 auth=$3 body=${4:-} filter=${5:-.}
	local args=(-sS -X "$method" -o "$OUT" -w '%{http_code}')
	local shown="curl -s"
	[ "$method" = GET ] || shown+=" -X $method"
	if [ "$auth" = agent ]; then
		args+=(-H "Authorization: Bearer $TOKEN")
		shown+=" -H $(quote "Authorization: Bearer $TOKEN")"
	fi
	if [ -n "$body" ]; then
		args+=(-H 'Content-Type: application/json' --data-binary "$body")
		shown+=" -H 'Content-Type: application/json' -d $(quote "$body")"
	fi
	shown+=" $(quote "$BASE$path")"
	[ "$filter" = . ] || shown+=" | jq $(quote "$filter")"
	printf '$ %s\n' "$shown"
	STATUS=$(curl "${args[@]}" "$BASE$path") || { echo "demo: is rdvsync running on $BASE? (make run)" >&2; exit 1; }
	RESPONSE=$(cat "$OUT")
	printf 'HTTP %s\n' "$STATUS"
	[ -z "$RESPONSE" ] || jq "$filter" <<<"$RESPONSE"
}

# expect STATUS fails the demo when the last answer had another status.
expect() {
	[ "$STATUS" = "$1" ] || { echo "demo: expected HTTP $1, got $STATUS" >&2; exit 1; }
}

step "1. The next free slot of Orientation RSA at the MDS Arras, as an anonymous prescripteur sees it"
call GET "/api/v1/slots/next?motif_id=$MOTIF&lieu_id=$LIEU" -
expect 200
STARTS_AT=$(jq -r '.slot.starts_at // empty' <<<"$RESPONSE")
[ -n "$STARTS_AT" ] || { echo "demo: no free slot in the booking window" >&2; exit 1; }
DAY=${STARTS_AT%%T*}

step "2. A médiathèque employee books it for Léa (prescription externe)"
BOOKING=$(jq -cn --arg starts_at "$STARTS_AT" --arg motif "$MOTIF" --arg lieu "$LIEU" '{
	motif_id: $motif, lieu_id: $lieu, starts_at: $starts_at,
	usager: {first_name: "Léa", last_name: "Dubois", phone_number: "06 12 34 56 78", postal_code: "62000"},
	prescripteur: {first_name: "Jean", last_name: "Petit", email: "jean.petit@mediatheque.example.org"},
	context: "Première demande de RSA, a besoin d’aide pour le dossier."}')
call POST /api/v1/rdvs - "$BOOKING"
expect 201
IDS=("$(jq -r .id <<<"$RESPONSE")")

step "3. The agents still free at $STARTS_AT (agents' view): each is booked by an agent"
call GET "/api/v1/slots?motif_id=$MOTIF&lieu_id=$LIEU&from=$DAY&to=$DAY" agent "" \
	"[.slots[] | select(.starts_at == \"$STARTS_AT\") | .agent_id]"
expect 200
mapfile -t FREE < <(jq -r --arg s "$STARTS_AT" '.slots[] | select(.starts_at == $s) | .agent_id' <<<"$RESPONSE")
[ ${#FREE[@]} -gt 0 ] || echo "(no other agent is free at that time)"
n=0
for agent in "${FREE[@]}"; do
	n=$((n + 1))
	body=$(jq -cn --arg starts_at "$STARTS_AT" --arg motif "$MOTIF" --arg lieu "$LIEU" --arg agent "$agent" --arg n "$n" '{
		motif_id: $motif, lieu_id: $lieu, starts_at: $starts_at, agent_id: $agent,
		usager: {first_name: "Usager", last_name: ("Démo " + $n)}}')
	call POST /api/v1/rdvs agent "$body"
	expect 201
	IDS+=("$(jq -r .id <<<"$RESPONSE")")
done

step "4. The same slot again: every free agent is taken, so 409"
call POST /api/v1/rdvs - "$BOOKING"
expect 409

step "5. The agent lists the RDVs of $DAY (who booked: created_by)"
call GET "/api/v1/rdvs?from=$DAY&to=$DAY" agent "" \
	'[.rdvs[] | {id, starts_at, agent_ids, status, created_by: .created_by.type}]'
expect 200

step "6. The agent cancels the RDVs of the demo (status revoked); the slot is free again"
for id in "${IDS[@]}"; do
	call POST "/api/v1/rdvs/$id/cancel" agent '{"reason": "Démonstration terminée"}' '{id, status, cancelled_at}'
	expect 200
done
call GET "/api/v1/slots/next?motif_id=$MOTIF&lieu_id=$LIEU" -
expect 200

#!/usr/bin/env bash
# Copies the spec's example bodies (connectors/tests/fixtures) into the connector corpora as
# `spec-*` seeds, each behind the `<op> <status>` line the harness reads. Re-run after adding a fixture.
set -euo pipefail
cd "$(dirname "$0")/.."
F=connectors/tests/fixtures
seed() { # protocol-dir fixture op status
  local dir=fuzz/corpus/connector_$1
  mkdir -p "$dir"
  { printf '%s %s\n' "$3" "$4"; cat "$F/$1/$2"; } > "$dir/spec-${2%.*}"
}
seed hotelbeds search_rs.json search 200
seed hotelbeds search_rs_numbers.json search 200
seed hotelbeds checkrates_rs.json recheck 200
seed hotelbeds booking_rs.json book 200
seed hotelbeds cancel_rs.json cancel 200
seed hotelbeds content_rs.json content 200
seed expedia_rapid search_rs.json search 200
seed expedia_rapid content_rs.json content 200
seed expedia_rapid price_check_available.json recheck 200
seed expedia_rapid price_check_changed.json recheck 409
seed expedia_rapid price_check_sold_out.json recheck 410
seed expedia_rapid book_rs.json book 201
seed expedia_rapid retrieve_rs.json retrieve 200
seed expedia_rapid error_401.json search 401
seed ota_soap avail_rs.xml search 200
seed ota_soap avail_rs_prefixed.xml search 200
seed ota_soap avail_rs_no_availability.xml recheck 200
seed ota_soap res_initiate_rs.xml prepare 200
seed ota_soap res_commit_rs.xml book 200
seed ota_soap read_rs_cancelled.xml retrieve 200
seed ota_soap cancel_rs.xml cancel 200
seed ota_soap descriptive_info_rs.xml content 200
seed ota_soap fault_client.xml search 500
seed ota_soap fault_server.xml book 500
seed derbysoft token_rs.json token 200
seed derbysoft shopping_rs.json search 200
seed derbysoft availability_rs.json recheck 200
seed derbysoft prebook_rs.json prepare 200
seed derbysoft book_rs.json book 200
seed derbysoft detail_rs.json retrieve 200
seed derbysoft cancel_rs.json cancel 200
seed derbysoft content_rs.json content 200
seed dida price_search_rs.json search 200
seed dida price_confirm_rs.json prepare 200
seed dida book_rs.json book 200
seed dida booking_search_rs.json find 200
seed dida cancel_quote_rs.json cancel_quote 200
seed dida cancel_rs.json cancel 200
seed dida hotel_detail_rs.json content 200

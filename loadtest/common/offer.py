"""Prints the {"offer_id": ...} body of the first offer of SUPPLIER in a search answer on stdin."""
import json
import sys

supplier = sys.argv[1]
answer = json.load(sys.stdin)
for hotel in answer["hotels"]:
    for room in hotel["rooms"]:
        for offer in room["offers"]:
            if offer["supplier"] == supplier:
                print(json.dumps({"offer_id": offer["offer_id"]}))
                sys.exit(0)
sys.exit(f"no {supplier} offer in the answer")

# Synchronises a CalDAV calendar with python-caldav's objects_by_sync_token
# (RFC 6578 sync-collection) from the token given ("" for an initial
# synchronisation), loads what changed and prints one line per object:
#   OBJ <file name> <UID> <STATUS>   an object added or changed
#   GONE <file name>                 an object removed
#   TOKEN <token>                    the token to synchronise from next time
# Used by internal/served and cmd/rdvsync tests.
import sys
import caldav

url, user, password, token = sys.argv[1:5]
client = caldav.DAVClient(url=url, username=user, password=password)
cal = client.principal().calendars()[0]
objs = cal.objects_by_sync_token(sync_token=token or None, load_objects=True)
for o in objs:
    name = str(o.url).rstrip("/").rsplit("/", 1)[-1]
    if o.data is None:
        print("GONE", name)
    else:
        ev = o.icalendar_instance.walk("VEVENT")[0]
        print("OBJ", name, ev["UID"], ev["STATUS"])
print("TOKEN", objs.sync_token)

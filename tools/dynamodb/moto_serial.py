"""Serves moto's DynamoDB on 127.0.0.1:PORT, one request at a time.

moto's own server (moto_server) answers requests on threads, and its
TransactWriteItems is not atomic there: it checks conditions and writes
item by item, and a cancelled transaction puts back a copy of the whole
table taken when it began, dropping what other requests wrote meanwhile.
DynamoDB's transactions are serializable, so the tests serve moto one
request at a time; clients still race, as the requests of several hosts
interleave.

    python3 moto_serial.py PORT
"""

import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

if __name__ == "__main__":
    run_simple("127.0.0.1", int(sys.argv[1]), DomainDispatcherApplication(create_backend_app), threaded=False)

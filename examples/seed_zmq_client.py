"""A ZeroMQ REQ client in the shape of the seed text's Python example.

The seed shows the REP side (bind, recv, print, send b"Message Received");
this is its counterpart: connect a REQ socket, send a greeting, wait for
the reply, and print it. The zeromq_server example answers it.

Usage: python3 seed_zmq_client.py [ENDPOINT] [COUNT]
(defaults: tcp://127.0.0.1:5555 and 1). Needs pyzmq.
"""

import sys

import zmq

endpoint = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:5555"
count = int(sys.argv[2]) if len(sys.argv) > 2 else 1

context = zmq.Context()
socket = context.socket(zmq.REQ)  # REQ = Request socket
socket.setsockopt(zmq.RCVTIMEO, 5000)  # fail instead of waiting forever
socket.setsockopt(zmq.LINGER, 0)
socket.connect(endpoint)

for i in range(1, count + 1):
    socket.send(f"Hello, Server! ({i})".encode())
    reply = socket.recv()
    print(f"Received: {reply.decode()}")
    if reply != b"Message Received":
        sys.exit(f"unexpected reply {reply!r}")

socket.close()
context.term()

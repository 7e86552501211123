#!/usr/bin/env python3
# tests/integration/nested/net-tftpd.py PORT FILE-CONTENT-STRING
# A one-shot TFTP server for net.bats (UDP both ways: the container's
# busybox tftp sends RRQ, we send DATA, it sends ACK).  Binds 0.0.0.0:PORT
# in whatever network namespace it is started in; prints what it saw.
import socket, struct, sys
port, content = int(sys.argv[1]), sys.argv[2].encode()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", port))
s.settimeout(120)
req, peer = s.recvfrom(1500)
op, = struct.unpack("!H", req[:2])
name = req[2:].split(b"\0")[0].decode()
print("rrq", name, flush=True)
t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t.settimeout(30)
t.sendto(struct.pack("!HH", 3, 1) + content, peer)
ack, _ = t.recvfrom(1500)
print("ack", struct.unpack("!HH", ack[:4]), flush=True)

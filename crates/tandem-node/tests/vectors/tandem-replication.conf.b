[[instance]]
name = "private"
interface = "eth1"
vrid = 11
priority = 100
interval = 0.1
addresses = ["198.51.100.254/24"]

[replication]
node = 2
cluster = 7
listen = "198.51.100.2:6974"
peer = "198.51.100.1:6974"
interface = "eth1"
key_file = "/run/trcap/key"

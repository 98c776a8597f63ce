#!/bin/sh
# ucarp's up script in the end-to-end tests: called on becoming MASTER,
# $1 = interface, $2 = virtual address.
exec ip addr add "$2/32" dev "$1"

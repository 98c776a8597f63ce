#!/bin/sh
# ucarp's down script in the end-to-end tests: called on becoming BACKUP
# and, with --shutdown, on exit. $1 = interface, $2 = virtual address.
ip addr del "$2/32" dev "$1" 2>/dev/null
exit 0

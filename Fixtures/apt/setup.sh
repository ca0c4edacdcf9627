#!/bin/sh
# Attack scenario (Fixtures/apt): the victim's files and the server's folder, before the
# recording. Usage: sh setup.sh PAYLOAD   (in an empty directory; PAYLOAD: payload.c built)
#
# Creates (sizes fixed, contents deterministic):
#   home/notes.txt           the user's notes                    (staged by the payload)
#   home/.ssh/id_rsa         an ssh-key-like secret              (staged by the payload)
#   home/.bash_history       shell history                       (read and dropped)
#   home/.config/app.conf    a config file                       (opened and fstat'ed only)
#   www/update               the payload program the server publishes
# Shared by Tests/RefinementTests/AttackScenarioTests.swift and Benchmarks/harness.
set -e
mkdir -p home/.ssh home/.config www
{
  echo "meeting notes, do not share"
  i=0
  while [ $i -lt 24 ]; do
    echo "item $i: ship build $((i * 7 % 31)) on day $((i * 13 % 29))"
    i=$((i + 1))
  done
} > home/notes.txt
{
  echo "-----BEGIN OPENSSH PRIVATE KEY-----"
  i=0
  while [ $i -lt 20 ]; do
    # 64 characters a line, a different arrangement each line.
    echo "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW" | cut -c $((i + 1))- | tr -d '\n'
    echo "Qy$i$((i * 37 % 101))AAAAIDv7xkP9Zq" | cut -c 1-$((i + 1))
    i=$((i + 1))
  done
  echo "-----END OPENSSH PRIVATE KEY-----"
} > home/.ssh/id_rsa
i=0
while [ $i -lt 40 ]; do
  echo "cd /srv/project$((i * 13 % 17)) && make test"
  i=$((i + 1))
done > home/.bash_history
printf '[app]\ntoken = abcdef0123456789\n' > home/.config/app.conf
cp "$1" www/update

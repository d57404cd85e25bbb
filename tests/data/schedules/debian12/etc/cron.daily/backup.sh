#!/bin/sh
/usr/local/bin/backup-all --full

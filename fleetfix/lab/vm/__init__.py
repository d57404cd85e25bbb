"""The VM fleet: a QEMU guest running Debian's kernel, where kdump, netconsole, module loading, fio and panics
are all real, with the out-of-tree ``fxhba`` vendor driver whose 1.0.0 build races under a deep queue."""

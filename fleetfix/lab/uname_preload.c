/*
 * Preloaded into every process of a lab host (/etc/ld.so.preload in the host's own /etc): uname(2) reports
 * the host's kernel release and version from its /proc/sys/kernel/{osrelease,version}, so `uname -r`,
 * Python's os.uname() and Ansible's ansible_kernel see the release the scenario gives the host.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <fcntl.h>

static void read_line(const char *path, char *out, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, out, size - 1);
	close(fd);
	if (n <= 0)
		return;
	out[n] = '\0';
	char *newline = strchr(out, '\n');
	if (newline)
		*newline = '\0';
}

int uname(struct utsname *buf)
{
	long rc = syscall(SYS_uname, buf);
	if (rc != 0)
		return (int)rc;
	read_line("/proc/sys/kernel/osrelease", buf->release, sizeof(buf->release));
	read_line("/proc/sys/kernel/version", buf->version, sizeof(buf->version));
	return 0;
}

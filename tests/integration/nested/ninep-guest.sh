#!/bin/busybox sh
# /init of the test initramfs of tests/integration/nested/ninep.bats: runs
# inside the guest (busybox), mounts the kvbox shares over virtio-9p and
# runs the POSIX checklist, one console line per check:
#     NINEP <check> ok
#     NINEP <check> FAIL <why>
# then "NINEP-DONE" and powers off.  The bats file compares what the host
# sees afterwards.  Shares: tag kvboxtest (read-write) at /mnt, tag kvboxro
# (read-only) at /ro, kvboxmm (cache=mmap, for MAP_SHARED writes) at /mm,
# kvboxx (a filesystem with user.* xattrs) at /x.  The host prepared in the
# rw share: big (KVBOX_NINEP_BIG_MB, sparse: random MiBs at its start, middle
# and end), big.sha256, hostmany/ (10,000 files), esc_abs and esc_rel
# (symlinks to a secret outside the share), host_passwd (-> /etc/passwd);
# on /x's directory the xattr user.kvbox.host=from-host.  While the VM
# runs, the host waits for swap.ready and then replaces swapdir with a
# symlink to / (see c_swap).  The guest's own /etc/passwd holds one line,
# kvbox-guest-passwd.
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
M=/mnt

ok() { echo "NINEP $1 ok"; }
bad() { echo "NINEP $1 FAIL $2"; }
# check NAME FUNCTION: the function's last status decides; its output is
# the reason shown on failure (one line, cut short).
# stdin is /dev/null: nothing may stop and ask (busybox rm asks on the
# console about write-protected files).
check() {
	out=$("$2" 2>&1 </dev/null)
	if [ $? -eq 0 ]; then ok "$1"; else bad "$1" "$(echo $out | cut -c1-160)"; fi
}
probe() { /ninep-probe "$@"; }

c_mount() {
	mkdir -p $M /ro &&
	mount -t 9p -o trans=virtio,version=9p2000.L kvboxtest $M &&
	mount -t 9p -o trans=virtio,version=9p2000.L,ro kvboxro /ro &&
	mkdir -p /mm /x &&
	mount -t 9p -o trans=virtio,version=9p2000.L,cache=mmap kvboxmm /mm &&
	mount -t 9p -o trans=virtio,version=9p2000.L kvboxx /x &&
	grep -q " $M 9p " /proc/mounts
}
c_create() { echo hello >$M/created && [ "$(cat $M/created)" = hello ]; }
c_overwrite() {
	printf abcdef >$M/w &&
	printf XY | dd of=$M/w bs=1 seek=2 conv=notrunc 2>/dev/null &&
	[ "$(cat $M/w)" = abXYef ]
}
c_append() {
	echo one >$M/app && echo two >>$M/app &&
	[ "$(cat $M/app)" = "one
two" ] && probe append $M/app2
}
c_truncate() {
	printf 0123456789 >$M/trunc && truncate -s 4 $M/trunc &&
	[ "$(cat $M/trunc)" = 0123 ] && truncate -s 10000 $M/trunc &&
	[ "$(stat -c %s $M/trunc)" = 10000 ] && truncate -s 4 $M/trunc
}
c_rename() {
	echo new >$M/ren_src && echo old >$M/ren_dst && mv -f $M/ren_src $M/ren_dst &&
	[ ! -e $M/ren_src ] && [ "$(cat $M/ren_dst)" = new ] &&
	mkdir $M/rdir && echo in >$M/rdir/f && mv $M/rdir $M/rdir2 && [ "$(cat $M/rdir2/f)" = in ]
}
c_hardlink() {
	echo hl >$M/hl1 && ln $M/hl1 $M/hl2 &&
	[ "$(stat -c %h $M/hl1)" = 2 ] && [ "$(stat -c %i $M/hl1)" = "$(stat -c %i $M/hl2)" ] &&
	echo more >>$M/hl2 && [ "$(cat $M/hl1)" = "hl
more" ]
}
c_symlink() {
	ln -s nowhere $M/sl_dangling && [ "$(readlink $M/sl_dangling)" = nowhere ] &&
	ln -s created $M/sl && [ "$(cat $M/sl)" = hello ] && [ -L $M/sl ]
}
c_chmod() { echo x >$M/mode && chmod 0751 $M/mode && [ "$(stat -c %a $M/mode)" = 751 ]; }
c_chown() { echo x >$M/owned && chown 1234:4321 $M/owned && [ "$(stat -c %u:%g $M/owned)" = 1234:4321 ]; }
c_utimes() { echo x >$M/timed && touch -d "2001-02-03 04:05:06" $M/timed && [ "$(stat -c %Y $M/timed)" = 981173106 ]; }
c_mkdir_rmdir() {
	mkdir $M/d1 && mkdir $M/d1/d2 && rmdir $M/d1/d2 && rmdir $M/d1 && [ ! -e $M/d1 ] &&
	mkdir $M/nonempty && : >$M/nonempty/f && ! rmdir $M/nonempty 2>/dev/null
}
c_readdir_guest() {
	mkdir $M/many || return 1
	i=0
	while [ $i -lt 1200 ]; do : >$M/many/f$i || return 1; i=$((i + 1)); done
	[ "$(ls $M/many | wc -l)" = 1200 ]
}
# 10,000 entries the host made: the guest's listing goes back to the host,
# which compares it with its own.
c_readdir_host() {
	ls $M/hostmany >$M/hostmany.list && [ "$(wc -l <$M/hostmany.list)" = 10000 ] &&
	[ -e $M/hostmany/f9999 ]
}
# dd with 1 MiB blocks: busybox sha256sum and cp would move 4 KiB per 9P
# request (262,144 round trips for 1 GiB).
c_big_read() {
	[ "$(dd if=$M/big bs=1M 2>/dev/null | sha256sum | cut -d' ' -f1)" = "$(cat $M/big.sha256)" ]
}
c_big_write() {
	dd if=$M/big of=$M/big.copy bs=1M 2>/dev/null && sync &&
	[ "$(stat -c %s $M/big.copy)" = "$(stat -c %s $M/big)" ]
}
c_sparse() {
	dd if=/dev/zero of=$M/sparse bs=1 count=1 seek=67108864 2>/dev/null &&
	[ "$(stat -c %s $M/sparse)" = 67108865 ] &&
	[ "$(dd if=$M/sparse bs=4096 skip=8192 count=1 2>/dev/null | tr -d '\000' | wc -c)" = 0 ]
}
c_fifo() {
	mkfifo $M/fifo && [ -p $M/fifo ] && mknod $M/fifo2 p && [ -p $M/fifo2 ] || return 1
	(echo through-fifo >$M/fifo) &
	read -r line <$M/fifo
	wait
	[ "$line" = through-fifo ]
}
# The gofer never creates device nodes (a guest must not be able to plant
# one on the host); fifos (above) are fine.
c_device_node() { ! mknod $M/blockdev b 7 0 2>/dev/null && [ ! -e $M/blockdev ]; }
c_socket() { probe socket $M/sock; }
c_xattr() { probe xattr /x/xf; }
c_mmap() { probe mmap /mm/mapped; }
c_unlink_open() { probe unlink-open $M/uo; }
c_flock() { probe flock $M/lockfile && probe fcntl-lock $M/lockfile2; }
c_fsync() { probe fsync $M/synced; }
c_readonly() {
	[ "$(cat /ro/hostfile)" = "read only" ] &&
	! (echo x >/ro/new) 2>/dev/null && ! rm -f /ro/hostfile 2>/dev/null && [ -e /ro/hostfile ]
}
# Escapes: symlinks that point outside resolve in the guest's own tree, and
# a write through one never reaches the host's file.
c_escape_passwd() {
	[ "$(readlink $M/host_passwd)" = /etc/passwd ] &&
	[ "$(cat $M/host_passwd)" = kvbox-guest-passwd ] &&
	ln -s /etc/passwd $M/esc_passwd && echo pwned >$M/esc_passwd &&
	[ -L $M/esc_passwd ] && [ "$(cat /etc/passwd)" = pwned ]
}
c_escape_outside() {
	for f in esc_abs esc_rel; do
		cat $M/$f 2>/dev/null | grep -q KVBOX-SECRET && return 1
	done
	return 0
}
# ".." from the mount's root is the guest's /, never the share's parent on
# the host (which holds outside/).
c_escape_dotdot() {
	mkdir -p $M/dd1/dd2 &&
	! cat $M/../outside/secret 2>/dev/null && ! cat $M/dd1/dd2/../../../outside/secret 2>/dev/null &&
	ls $M/.. | grep -qx ninep-probe && ! ls $M/.. | grep -qx outside &&
	[ "$(cd $M/dd1/dd2/../.. && pwd)" = $M ]
}
# A directory the guest holds open (its cwd: the client walks from that
# directory's fid) is replaced on the host by a symlink to /.  Walks from
# the open fid must reach the old directory's inode, never the host's /.
c_swap() {
	mkdir $M/swapdir && echo inside >$M/swapdir/inside || return 1
	(
		cd $M/swapdir || exit 1
		: >$M/swap.ready
		i=0
		while [ ! -e $M/swap.done ]; do
			i=$((i + 1))
			[ $i -le 300 ] || { echo "the host did not swap"; exit 1; }
			sleep 1
		done
		# (the guest's own path $M/swapdir still names the dentry our cwd
		# holds: cache=none keeps no revalidation; the host checks the swap)
		cat ./etc/passwd 2>/dev/null | grep -q '^root:' && { echo "read the host's /etc/passwd"; exit 1; }
		[ ! -e ./etc ] && [ ! -e ./bin ] || { echo "the open directory shows the host's /"; exit 1; }
		ls . | grep -qx inside || { echo "lost the old directory's entries"; exit 1; }
		[ "$(cat ./inside)" = inside ] || { echo "cannot read the old directory's file"; exit 1; }
		: >./made-after-swap || { echo "cannot create in the open directory"; exit 1; }
		exit 0
	)
}

check mount c_mount
check create c_create
check overwrite c_overwrite
check append c_append
check truncate c_truncate
check rename c_rename
check hardlink c_hardlink
check symlink c_symlink
check chmod c_chmod
check chown c_chown
check utimes c_utimes
check mkdir-rmdir c_mkdir_rmdir
check readdir-guest c_readdir_guest
check readdir-host c_readdir_host
check sparse c_sparse
check fifo c_fifo
check socket c_socket
check xattr c_xattr
check mmap c_mmap
check device-node c_device_node
check unlink-open c_unlink_open
check flock c_flock
check fsync c_fsync
check readonly c_readonly
check escape-passwd c_escape_passwd
check escape-outside c_escape_outside
check escape-dotdot c_escape_dotdot
check swap c_swap
check big-read c_big_read
check big-write c_big_write
sync
umount /mm /x $M 2>/dev/null
echo NINEP-DONE
poweroff -f

// DCache: dentry and inode caches on the slab (issue 3).

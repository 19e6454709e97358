print("slabfs: the filesystem is not built yet")

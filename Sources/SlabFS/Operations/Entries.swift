import CFuse
import DCache

// LOOKUP, FORGET and BATCH_FORGET: where the kernel's lookup counts move.

func slabfsLookup(_ request: fuse_req_t?, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?) {
    serve(request) { fs in
        let name = try entryName(name)
        try fs.withInode(parent) { parent in
            guard let entry = try fs.lookUp(name, in: parent) else {
                fs.replyNegative(request)
                return
            }
            fs.replyEntry(request, entry)
        }
    }
}

func slabfsForget(_ request: fuse_req_t?, _ node: fuse_ino_t, _ count: UInt64) {
    fileSystem(request).forget(NodeID(node), count: count)
    fuse_reply_none(request)
}

func slabfsForgetMulti(_ request: fuse_req_t?, _ count: Int, _ forgets: UnsafeMutablePointer<fuse_forget_data>?) {
    let fs = fileSystem(request)
    if let forgets {
        let items = UnsafeBufferPointer(start: forgets, count: count)
        fs.cache.forget(bulk: items.map { (NodeID($0.ino), $0.nlookup) })
        if fs.pathDescriptors.isInUse {
            for item in items { fs.releaseKeptDescriptor(NodeID(item.ino)) }
        }
        if fs.passthrough.hasIdleRegistrations {
            for item in items { fs.dropIdleRegistration(NodeID(item.ino)) }
        }
    }
    fuse_reply_none(request)
}

SlabfsCommand.runFromCommandLine()

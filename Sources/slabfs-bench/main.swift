SlabfsBench.main()

import DCache

print("magprov")

import CMOCore
print(CMOVersion.string)

import CMOSandbox
print("cmo-sandbox: not yet built")

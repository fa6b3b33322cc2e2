// EmulatorCore

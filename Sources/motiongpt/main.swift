import TensorEngine
print(TensorEngine.engineThreads)

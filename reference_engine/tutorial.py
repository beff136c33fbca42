import reference_engine as torch

# fmt: off
# The seed notebook's code cells, verbatim (only the import differs): python -m reference_engine

x = torch.tensor([5.], requires_grad=True)
print(x)

y = x ** 3
print(y)

y.backward()
if x.grad == 3 * x ** 2:
    print("Gradients match!")

a = torch.tensor([1., 2., 3.], requires_grad=True)
b = a ** 3
b.retain_grad()
y_hat = b ** 2

error = torch.sum(y_hat)

error.backward()
if all(a.grad == 6 * b * a ** 2) and all(b.grad == 2 * b):
    print("Gradients match!")

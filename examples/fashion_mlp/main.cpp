// fashion_mlp: trains the fashion-mlp workload (MLP 784-256-128-10, Adam, cross-entropy)
// on Fashion-MNIST and reports speed, memory and accuracy.
//
//   fashion_mlp [--mode eager|graph] [--device cpu|cuda] [--epochs N] [--steps N] [--batch B]
//               [--lr X] [--threads T] [--data DIR] [--limit N] [--seed S] [--json PATH]
#include "examples/common/example_main.h"

int main(int argc, char** argv) { return duet::workloads::example_main(argc, argv, "fashion_mlp", "fashion-mlp"); }

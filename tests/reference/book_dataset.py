"""The book's GPTDatasetV1 (Build a Large Language Model (From Scratch),
chapter 2), taking token ids instead of text: the one copy that the reference
generators (gen_reference.py, train_reference.py) and the Python benchmark
(bench/dataset_bench.py) share."""
import torch
from torch.utils.data import Dataset


class GPTDatasetV1(Dataset):
    def __init__(self, token_ids, max_length, stride):
        self.input_ids = []
        self.target_ids = []
        for i in range(0, len(token_ids) - max_length, stride):
            input_chunk = token_ids[i:i + max_length]
            target_chunk = token_ids[i + 1: i + max_length + 1]
            self.input_ids.append(torch.tensor(input_chunk))
            self.target_ids.append(torch.tensor(target_chunk))

    def __len__(self):
        return len(self.input_ids)

    def __getitem__(self, idx):
        return self.input_ids[idx], self.target_ids[idx]
